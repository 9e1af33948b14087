"""The care coordinator workspace: queue, tickets, workflow, audit and API."""
