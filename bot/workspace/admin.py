"""Command-line tool for workspace accounts and API tokens.

    python -m bot.workspace.admin create-user ana --role coordinator --name "Ana Ruiz"
    python -m bot.workspace.admin list-users
    python -m bot.workspace.admin create-token "Case management system"

It migrates the database named by `DATABASE_URL` first, so it also works on
a fresh installation. Exit codes: 0 on success, 2 for invalid input (such as
a taken username, an unknown account or a short password), 1 for any other
failure.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from typing import Callable, TextIO

from bot.models import STAFF_ROLES

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2


class CommandError(Exception):
    """A command failed because of invalid input, explained in the message."""


def _read_password(args: argparse.Namespace, stdin: TextIO) -> str:
    from bot.workspace.auth import validate_password

    if args.password_stdin:
        password = stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        again = getpass.getpass("Password again: ")
        if password != again:
            raise CommandError("the two passwords differ; nothing was changed")
    validate_password(password)
    return password


def _format_time(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def _create_user(session, args, stdin, out) -> None:
    from bot.workspace.auth import create_user

    password = _read_password(args, stdin)
    user = create_user(
        session,
        args.username,
        role=args.role,
        display_name=args.name,
        password=password,
    )
    session.commit()
    print(f"Created {user.role} {user.username} ({user.display_name}).", file=out)


def _set_password(session, args, stdin, out) -> None:
    from bot.workspace.auth import set_password

    password = _read_password(args, stdin)
    user = set_password(session, args.username, password)
    session.commit()
    print(f"Set a new password for {user.username}; its sign-ins have ended.", file=out)


def _disable_user(session, args, stdin, out) -> None:
    from bot.workspace.auth import set_active

    user = set_active(session, args.username, False)
    session.commit()
    print(f"Disabled {user.username}; its sign-ins have ended.", file=out)


def _enable_user(session, args, stdin, out) -> None:
    from bot.workspace.auth import set_active

    user = set_active(session, args.username, True)
    session.commit()
    print(f"Enabled {user.username}.", file=out)


def _unlock(session, args, stdin, out) -> None:
    from bot.workspace.auth import unlock_user

    user = unlock_user(session, args.username)
    session.commit()
    print(f"Unlocked {user.username}.", file=out)


def _list_users(session, args, stdin, out) -> None:
    from bot.models import utcnow
    from bot.workspace.auth import is_locked, list_users

    now = utcnow()
    rows = [("USERNAME", "ROLE", "STATE", "NAME", "LAST SIGN-IN")]
    for user in list_users(session):
        if not user.active:
            state = "disabled"
        elif is_locked(user, now):
            state = "locked"
        else:
            state = "active"
        rows.append(
            (
                user.username,
                user.role,
                state,
                user.display_name,
                _format_time(user.last_login_at),
            )
        )
    _print_table(rows, out)


def _create_token(session, args, stdin, out) -> None:
    from bot.workspace.tokens import create_token

    token, secret = create_token(session, args.name)
    session.commit()
    print(
        f"Created API token {token.id} ({token.prefix}) named {token.name!r}.", file=out
    )
    print("Copy it now; it is not shown again:", file=out)
    print(secret, file=out)


def _revoke_token(session, args, stdin, out) -> None:
    from bot.workspace.tokens import revoke_token

    token = revoke_token(session, args.token)
    session.commit()
    print(f"Revoked API token {token.id} ({token.prefix}).", file=out)


def _list_tokens(session, args, stdin, out) -> None:
    from bot.workspace.tokens import list_tokens

    rows = [("ID", "PREFIX", "NAME", "CREATED", "LAST USED", "REVOKED")]
    for token in list_tokens(session):
        rows.append(
            (
                str(token.id),
                token.prefix,
                token.name,
                _format_time(token.created_at),
                _format_time(token.last_used_at),
                _format_time(token.revoked_at),
            )
        )
    _print_table(rows, out)


def _print_table(rows: list[tuple[str, ...]], out: TextIO) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip(),
            file=out,
        )


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with one subcommand per task."""
    parser = argparse.ArgumentParser(
        prog="python -m bot.workspace.admin",
        description="Manage workspace accounts and API tokens.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Callable, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    def add_password_option(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from the first line of standard input "
            "instead of prompting twice",
        )

    create = add("create-user", _create_user, "Create a staff account.")
    create.add_argument("username", help="sign-in name, such as ana.ruiz")
    create.add_argument(
        "--role", required=True, choices=STAFF_ROLES, help="the account's role"
    )
    create.add_argument(
        "--name", required=True, help="display name shown to colleagues"
    )
    add_password_option(create)

    password = add(
        "set-password",
        _set_password,
        "Set a new password; ends the account's sign-ins.",
    )
    password.add_argument("username")
    add_password_option(password)

    for name, handler, help_text in (
        ("disable-user", _disable_user, "Disable an account; ends its sign-ins."),
        ("enable-user", _enable_user, "Enable a disabled account."),
        ("unlock", _unlock, "Clear a lockout after failed sign-ins."),
    ):
        add(name, handler, help_text).add_argument("username")

    add("list-users", _list_users, "List the staff accounts.")

    token = add("create-token", _create_token, "Create an API token and print it once.")
    token.add_argument(
        "name", help="what the token is for, such as the system that uses it"
    )
    revoke = add("revoke-token", _revoke_token, "Revoke an API token.")
    revoke.add_argument(
        "token", metavar="ID_OR_PREFIX", help="the token's id or prefix"
    )
    add("list-tokens", _list_tokens, "List the API tokens.")
    return parser


def main(
    argv: list[str] | None = None,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
) -> int:
    """Run one command and return the process exit code."""
    from bot.db import make_engine, make_session_factory, run_migrations
    from bot.settings import get_settings
    from bot.workspace.auth import AccountError

    args = build_parser().parse_args(argv)
    stdin = stdin or sys.stdin
    out = out or sys.stdout
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")

    settings = get_settings()
    run_migrations(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as session:
            args.handler(session, args, stdin, out)
    except (CommandError, AccountError, LookupError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("error: interrupted; nothing was changed", file=sys.stderr)
        return EXIT_FAILED
    finally:
        engine.dispose()
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
