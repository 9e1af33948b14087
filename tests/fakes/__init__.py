"""Fake external services that tests and manual runs start on 127.0.0.1."""
