"""SMS keywords that carriers and Twilio reserve for opting out and for help."""

from __future__ import annotations

import re

OPT_OUT_KEYWORDS = frozenset(
    {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "alto", "parar",
     "cancelar"}
)
OPT_IN_KEYWORDS = frozenset({"start", "unstop", "yes"})
HELP_KEYWORDS = frozenset({"help", "info", "ayuda"})
_EDGES = re.compile(r"^[\s\W_]+|[\s\W_]+$")


def bare_keyword(text: str) -> str:
    """Return the message as one lowercase word without surrounding punctuation."""
    return _EDGES.sub("", text).casefold()


def is_opt_out_keyword(text: str) -> bool:
    """Whether the whole message is a carrier opt-out keyword."""
    return bare_keyword(text) in OPT_OUT_KEYWORDS
