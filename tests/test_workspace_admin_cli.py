"""The account tool `python -m bot.workspace.admin`, run as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from bot.db import make_engine, make_session_factory
from bot.models import ApiToken, StaffUser
from bot.workspace.tokens import hash_token

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery"


def run_admin(
    db_url: str, tmp_path: Path, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "VAR_DIR": str(tmp_path / "var"),
        "APP_SECRET": "cli-test-secret",
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    return subprocess.run(
        [sys.executable, "-m", "bot.workspace.admin", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        timeout=120,
    )


def load_user(db_url: str, username: str) -> StaffUser | None:
    engine = make_engine(db_url)
    try:
        with make_session_factory(engine)() as session:
            return session.execute(
                select(StaffUser).where(StaffUser.username == username)
            ).scalar_one_or_none()
    finally:
        engine.dispose()


def test_create_user_hashes_password(db_url, tmp_path):
    result = run_admin(
        db_url,
        tmp_path,
        "create-user",
        "Ana.Ruiz",
        "--role",
        "coordinator",
        "--name",
        "Ana Ruiz",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert result.returncode == 0, result.stderr
    assert "ana.ruiz" in result.stdout

    user = load_user(db_url, "ana.ruiz")
    assert user is not None
    assert user.role == "coordinator"
    assert user.display_name == "Ana Ruiz"
    assert user.active is True
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert PasswordHasher().verify(user.password_hash, PASSWORD)


def test_duplicate_username_exits_2(db_url, tmp_path):
    args = (
        "create-user",
        "sam",
        "--role",
        "supervisor",
        "--name",
        "Sam",
        "--password-stdin",
    )
    first = run_admin(db_url, tmp_path, *args, stdin=PASSWORD + "\n")
    assert first.returncode == 0, first.stderr

    second = run_admin(db_url, tmp_path, *args, stdin=PASSWORD + "\n")
    assert second.returncode == 2
    assert "already taken" in second.stderr
    assert "Traceback" not in second.stderr


@pytest.mark.parametrize(
    "args, stdin, message",
    [
        (("--role", "coordinator", "--name", "Short"), "short\n", "too short"),
        (("--role", "owner", "--name", "Bad Role"), PASSWORD + "\n", "invalid choice"),
        (("--role", "coordinator", "--name", "  "), PASSWORD + "\n", "display name"),
    ],
)
def test_create_user_rejects_invalid_input(
    session_factory, db_url, tmp_path, args, stdin, message
):
    result = run_admin(
        db_url, tmp_path, "create-user", "kim", *args, "--password-stdin", stdin=stdin
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert load_user(db_url, "kim") is None


def test_account_lifecycle_commands(db_url, tmp_path):
    created = run_admin(
        db_url,
        tmp_path,
        "create-user",
        "lee",
        "--role",
        "admin",
        "--name",
        "Lee",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert created.returncode == 0, created.stderr
    epoch = load_user(db_url, "lee").session_epoch

    changed = run_admin(
        db_url,
        tmp_path,
        "set-password",
        "lee",
        "--password-stdin",
        stdin="another long password\n",
    )
    assert changed.returncode == 0, changed.stderr
    user = load_user(db_url, "lee")
    assert PasswordHasher().verify(user.password_hash, "another long password")
    assert user.session_epoch == epoch + 1

    disabled = run_admin(db_url, tmp_path, "disable-user", "lee")
    assert disabled.returncode == 0, disabled.stderr
    user = load_user(db_url, "lee")
    assert user.active is False
    assert user.session_epoch == epoch + 2

    listed = run_admin(db_url, tmp_path, "list-users")
    assert listed.returncode == 0, listed.stderr
    line = next(line for line in listed.stdout.splitlines() if line.startswith("lee"))
    assert "disabled" in line
    assert "admin" in line

    enabled = run_admin(db_url, tmp_path, "enable-user", "lee")
    assert enabled.returncode == 0, enabled.stderr
    assert load_user(db_url, "lee").active is True

    missing = run_admin(db_url, tmp_path, "disable-user", "nobody")
    assert missing.returncode == 2
    assert "no account" in missing.stderr


def test_unlock_clears_lockout(db_url, tmp_path):
    from datetime import timedelta

    from bot.models import utcnow

    created = run_admin(
        db_url,
        tmp_path,
        "create-user",
        "max",
        "--role",
        "coordinator",
        "--name",
        "Max",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert created.returncode == 0, created.stderr
    engine = make_engine(db_url)
    with make_session_factory(engine)() as session:
        user = session.execute(
            select(StaffUser).where(StaffUser.username == "max")
        ).scalar_one()
        user.locked_until = utcnow() + timedelta(minutes=15)
        user.failed_logins = 3
        session.commit()
    engine.dispose()

    listed = run_admin(db_url, tmp_path, "list-users")
    assert "locked" in listed.stdout

    unlocked = run_admin(db_url, tmp_path, "unlock", "max")
    assert unlocked.returncode == 0, unlocked.stderr
    user = load_user(db_url, "max")
    assert user.locked_until is None
    assert user.failed_logins == 0


def test_token_commands(db_url, tmp_path):
    created = run_admin(db_url, tmp_path, "create-token", "case management")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("hpsm_")

    engine = make_engine(db_url)
    with make_session_factory(engine)() as session:
        row = session.execute(select(ApiToken)).scalar_one()
        assert row.token_hash == hash_token(secret)
        assert secret not in (row.token_hash, row.prefix)
        token_id = row.id
    engine.dispose()

    listed = run_admin(db_url, tmp_path, "list-tokens")
    assert listed.returncode == 0, listed.stderr
    assert "case management" in listed.stdout
    assert secret not in listed.stdout

    revoked = run_admin(db_url, tmp_path, "revoke-token", str(token_id))
    assert revoked.returncode == 0, revoked.stderr
    assert load_token_revoked(db_url, token_id)

    unknown = run_admin(db_url, tmp_path, "revoke-token", "999")
    assert unknown.returncode == 2
    assert "no API token" in unknown.stderr


def load_token_revoked(db_url: str, token_id: int) -> bool:
    engine = make_engine(db_url)
    try:
        with make_session_factory(engine)() as session:
            return session.get(ApiToken, token_id).revoked_at is not None
    finally:
        engine.dispose()
