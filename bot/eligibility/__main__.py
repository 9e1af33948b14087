"""Command line: screen a JSON profile read from standard input.

    python -m bot.eligibility [--rule-set NAME] < profile.json

Prints the result as JSON and exits 0 for any valid profile. Invalid input
(a bad field, malformed JSON, an unknown rule set) gives exit status 2 and
one line on standard error.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import NoReturn, Sequence, TextIO

from bot.eligibility.engine import screen
from bot.eligibility.profile import InvalidProfile, parse_profile_json
from bot.eligibility.rules import (
    RULE_SET_ENV,
    RULE_SETS,
    UnknownRuleSet,
    resolve_rule_set_name,
)

EXIT_INVALID = 2


class _OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors fit on one line of standard error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INVALID, f"{self.prog}: error: {message}\n")


def _build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="python -m bot.eligibility",
        description=(
            "Screen a member profile (a JSON object read from standard input) "
            "for Enhanced Care Management and Community Supports, and print "
            "the result as JSON."
        ),
    )
    parser.add_argument(
        "--rule-set",
        metavar="NAME",
        help=(
            f"rule set to apply, one of: {', '.join(RULE_SETS)}. Default: the "
            f"{RULE_SET_ENV} environment variable, else {RULE_SETS[0]}."
        ),
    )
    return parser


def main(
    argv: Sequence[str] | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the command line and return its exit status."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    args = _build_parser().parse_args(argv)

    try:
        rule_set = resolve_rule_set_name(args.rule_set)
        text = stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read()
        if isinstance(text, bytes):
            text = _decode(text)
        profile = parse_profile_json(text)
    except (InvalidProfile, UnknownRuleSet) as error:
        print(f"error: {error}", file=stderr)
        return EXIT_INVALID

    result = screen(profile, rule_set)
    json.dump(result, stdout, indent=2, ensure_ascii=False)
    stdout.write("\n")
    return 0


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidProfile(
            "profile", f"input is not UTF-8 (byte {error.start})"
        ) from None


if __name__ == "__main__":
    sys.exit(main())
