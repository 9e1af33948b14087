"""Start the whole assistant: migrate, train when needed, run every process.

`make run` calls `python -m bot.runner`. It stops every child process on
Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml
from sqlalchemy.engine import make_url

from bot.logfilter import install_log_masking
from bot.settings import PROJECT_ROOT, Settings, get_settings

logger = logging.getLogger("bot.runner")

MODEL_DIR = PROJECT_ROOT / "models"
MODEL_NAME = "hpsm"
TRAINING_INPUTS = ("config.yml", "domain.yml", "data")


def training_fingerprint(root: Path = PROJECT_ROOT) -> str:
    """Hash the training data and configuration, so unchanged input skips training."""
    digest = hashlib.sha256()
    for name in TRAINING_INPUTS:
        path = root / name
        files = sorted(path.rglob("*.yml")) if path.is_dir() else [path]
        for file in files:
            digest.update(str(file.relative_to(root)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def model_path() -> Path:
    return MODEL_DIR / f"{MODEL_NAME}.tar.gz"


def train_if_needed(settings: Settings, force: bool = False) -> Path:
    """Train the model unless one exists for the current training input."""
    fingerprint = training_fingerprint()
    stamp = MODEL_DIR / f"{MODEL_NAME}.fingerprint"
    model = model_path()
    if not force and model.exists() and stamp.exists():
        if stamp.read_text().strip() == fingerprint:
            logger.info("Model is up to date; skipping training")
            return model

    logger.info("Training the model (data or configuration changed)")
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "bot.rasa_ext.cli", "train", "--fixed-model-name", MODEL_NAME,
         "--out", str(MODEL_DIR), "--quiet"],
        cwd=PROJECT_ROOT,
        check=True,
    )
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(fingerprint)
    logger.info("Training took %.0f s", time.monotonic() - started)
    return model


def tracker_store_config(database_url: str) -> dict:
    """Translate `DATABASE_URL` into Rasa's SQL tracker store settings."""
    url = make_url(database_url)
    dialect = url.get_backend_name()
    config = {"type": "SQL", "dialect": dialect, "db": url.database}
    if dialect != "sqlite":
        config.update(
            {
                # Rasa's endpoint config calls the host `url`.
                "url": url.host or "127.0.0.1",
                "port": url.port,
                "username": url.username,
                "password": url.password,
            }
        )
    return {key: value for key, value in config.items() if value is not None}


def lock_store_config(redis_url: str | None) -> dict:
    """Translate `REDIS_URL` into Rasa's lock store settings (in-memory if unset)."""
    if not redis_url:
        return {"type": "in_memory"}
    url = make_url(redis_url.replace("redis://", "redis+py://", 1))
    config = {
        "type": "redis",
        "url": url.host or "127.0.0.1",
        "port": url.port or 6379,
        "db": int(url.database or 0),
        "key_prefix": "hpsm",
    }
    if url.password:
        config["password"] = url.password
    return config


def write_endpoints(settings: Settings) -> Path:
    """Write Rasa's endpoints file for these settings under `var/`."""
    endpoints = {
        "action_endpoint": {"url": f"http://127.0.0.1:{settings.action_server_port}/webhook"},
        "tracker_store": tracker_store_config(settings.database_url),
        "lock_store": lock_store_config(settings.redis_url),
    }
    path = settings.var_dir / "endpoints.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(endpoints, sort_keys=False))
    return path


# `rasa run` has flags for these levels. For the others it reads LOG_LEVEL from
# the environment, which the children inherit.
RASA_LOG_LEVEL_FLAGS = {
    "DEBUG": ["--debug"],
    "INFO": ["--verbose"],
    "WARNING": ["--quiet"],
}


def action_server_command(settings: Settings) -> list[str]:
    """Build the command line of the action server."""
    return [
        sys.executable, "-m", "actions.server",
        "--port", str(settings.action_server_port),
        "--log-level", settings.log_level,
    ]


def web_command(settings: Settings) -> list[str]:
    """Build the command line of the web server (workspace, API, chat widget)."""
    return [sys.executable, "-m", "bot.web"]


def rasa_command(settings: Settings, model: Path, endpoints: Path) -> list[str]:
    """Build the `rasa run` command line."""
    command = [
        sys.executable, "-m", "bot.rasa_ext.cli", "run",
        "--model", str(model),
        "--endpoints", str(endpoints),
        "--credentials", str(PROJECT_ROOT / "credentials.yml"),
        "--port", str(settings.rasa_port),
        "--interface", os.environ.get("RASA_INTERFACE", "127.0.0.1"),
        "--logging-config-file", str(PROJECT_ROOT / "config" / "logging.yml"),
    ]
    command += RASA_LOG_LEVEL_FLAGS.get(settings.log_level, [])
    if settings.rasa_auth_token:
        command += ["--enable-api", "--auth-token", settings.rasa_auth_token]
    return command


def busy_ports(settings: Settings) -> list[str]:
    """Return a message for each port of ours that another program holds.

    A child that cannot bind its port exits with a traceback that is easy to
    miss among Rasa's start-up output, so the runner checks first.
    """
    ports = {
        "RASA_PORT": (os.environ.get("RASA_INTERFACE", "127.0.0.1"), settings.rasa_port),
        "ACTION_SERVER_PORT": ("127.0.0.1", settings.action_server_port),
        "WEB_PORT": (settings.web_interface, settings.web_port),
    }
    problems = []
    for variable, (host, port) in ports.items():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            # As the servers do, so that connections of a previous run still
            # in TIME_WAIT do not count; a live listener still does.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as error:
                problems.append(
                    f"Port {port} ({variable}) on {host} is not free: "
                    f"{error.strerror}. Stop the program using it, or set "
                    f"{variable} to another port."
                )
    return problems


def wait_for_http(url: str, timeout: float, process: subprocess.Popen) -> None:
    """Wait until `url` answers, or raise if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(1)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


async def _run_outbox(stop: asyncio.Event, settings: Settings) -> None:
    from bot.db import get_session_factory
    from bot.outbox import OutboxSender

    sender = OutboxSender(get_session_factory(), settings)
    task = asyncio.create_task(sender.run_forever(poll_seconds=1.0))
    await stop.wait()
    sender.stop()
    await task


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train-only", action="store_true", help="train and exit")
    parser.add_argument("--force-train", action="store_true", help="always train")
    args = parser.parse_args(argv)

    # Rasa's telemetry and its Sentry error reports would reach the internet.
    os.environ["RASA_TELEMETRY_ENABLED"] = "false"
    settings = get_settings()
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    # The outbox sender handles no member text, but it is withheld at every
    # level anyway, as in the children.
    install_log_masking(text_level=logging.NOTSET)

    from bot.db import run_migrations

    run_migrations(settings.database_url)
    model = train_if_needed(settings, force=args.force_train)
    if args.train_only:
        return 0

    problems = busy_ports(settings)
    if problems:
        for problem in problems:
            logger.error("%s", problem)
        return 1

    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "LOG_LEVEL": settings.log_level,
    }
    endpoints = write_endpoints(settings)
    children = [
        subprocess.Popen(action_server_command(settings), cwd=PROJECT_ROOT, env=env),
        subprocess.Popen(rasa_command(settings, model, endpoints), cwd=PROJECT_ROOT,
                         env=env),
        subprocess.Popen(web_command(settings), cwd=PROJECT_ROOT, env=env),
    ]

    stop = asyncio.Event()
    loop = asyncio.new_event_loop()

    def request_stop(*_: object) -> None:
        loop.call_soon_threadsafe(stop.set)

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        rasa_url = f"http://127.0.0.1:{settings.rasa_port}"
        web_url = f"http://127.0.0.1:{settings.web_port}"
        wait_for_http(rasa_url + "/", 300, children[1])
        wait_for_http(web_url + "/health", 60, children[2])
        print(
            "\nThe HPSM member assistant is running.\n"
            f"  Web chat demo page:     {web_url}/demo\n"
            f"  Coordinator workspace:  {web_url}/workspace/\n"
            f"  REST:  POST {rasa_url}/webhooks/rest/session, then "
            f"/webhooks/rest/webhook\n"
            f"  SMS:   POST {rasa_url}/webhooks/twilio/webhook\n"
            "  Chat in the terminal: .venv/bin/python -m bot.chat\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        loop.run_until_complete(_watch(stop, children, settings))
    except (RuntimeError, TimeoutError) as error:
        logger.error("Start-up failed: %s", error)
        return 1
    finally:
        _stop_children(children)
        loop.close()
    return 0


async def _watch(stop: asyncio.Event, children, settings: Settings) -> None:
    outbox = asyncio.create_task(_run_outbox(stop, settings))
    while not stop.is_set():
        if any(child.poll() is not None for child in children):
            logger.error("A child process exited; stopping the assistant")
            stop.set()
            break
        try:
            await asyncio.wait_for(stop.wait(), timeout=1.0)
        except asyncio.TimeoutError:
            pass
    await outbox


def _stop_children(children: list[subprocess.Popen]) -> None:
    for child in children:
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + 15
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()


if __name__ == "__main__":
    sys.exit(main())
