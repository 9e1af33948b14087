"""SMS keywords that carriers and Twilio reserve for opting out and for help.

A keyword counts only as the whole message, in any case, with spaces,
punctuation and symbols ignored: "Stop!", "S T O P" and "stop." are STOP,
but "I want to stop smoking" is ordinary text. Plain requests to stop the
texts, in English or Spanish ("please stop texting me", "no me manden mas
mensajes"), also opt out.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

OPT_OUT_KEYWORDS = frozenset(
    {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "alto", "parar",
     "cancelar"}
)
OPT_IN_KEYWORDS = frozenset({"start", "unstop", "yes"})
HELP_KEYWORDS = frozenset({"help", "info", "ayuda"})
SPANISH_KEYWORDS = frozenset({"alto", "parar", "cancelar", "ayuda"})

OPT_OUT = "opt_out"
OPT_IN = "opt_in"
HELP = "help"

_NOT_WORD = re.compile(r"[\W_]+")
_SPACES = re.compile(r"\s+")

# Matched against lowercase text without accents and with straight
# apostrophes. Each pattern names the texts or the sending, so "stop the
# questions" and "I want to stop smoking" stay ordinary text, and so does a
# negation right before the verb ("don't stop texting me").
# NOTE: a fixed list; a request worded otherwise reaches the dialogue.
_TEXTS = r"(?:texts?|text\s+messages?|messages?|sms|msgs?)"
_NOT_NEGATED = r"(?<!don't )(?<!dont )(?<!do not )(?<!never )(?<!not )"
_ENGLISH_REQUESTS = [
    rf"\b{_NOT_NEGATED}(?:stop|quit|cease)\s+(?:texting|txting|messaging|"
    rf"sending\s+(?:me\s+)?(?:any\s*more\s+|more\s+|these\s+|the\s+)?{_TEXTS})\b",
    rf"\b{_NOT_NEGATED}(?:stop|quit|end)\s+(?:all\s+)?"
    rf"(?:the\s+|these\s+|your\s+|those\s+)?{_TEXTS}\b",
    r"\b(?:do\s+not|don'?t|never)\s+(?:text|message|sms|txt)\s+me\b",
    rf"\bno\s+more\s+{_TEXTS}\b",
    r"^(?:please\s+)?unsubscribe(?:\s+me)?(?:\s+please)?$",
    rf"\bunsubscribe\s+(?:me\s+)?from\s+(?:these\s+|your\s+|the\s+|all\s+)?"
    rf"(?:{_TEXTS}|this\s+number|this\s+list)\b",
    r"\bopt\s*-?\s*me\s+out\b",
    rf"\bopt\s*-?\s*out\s+of\s+(?:the\s+|these\s+|your\s+|all\s+)?{_TEXTS}\b",
    r"\btake\s+me\s+off\s+(?:your|the|this)\s+(?:text\s+|mailing\s+)?list\b",
]
_MENSAJES = r"(?:mensajes?|textos?|sms)"
_SPANISH_REQUESTS = [
    r"\bno\s+me\s+(?:manden|mande|mandes|envien|envie|envies|escriban|escriba|"
    rf"escribas)\s+(?:mas\s+)?(?:{_MENSAJES}\b|mas\b)",
    r"\b(?<!no )(?:deja|dejen|deje|dejar|paren|pare|para)\s+de\s+(?:mandar|enviar|"
    r"escribir|textear)(?:me)?\b",
    rf"\bno\s+(?:quiero|deseo)\s+(?:recibir\s+)?(?:mas\s+)?{_MENSAJES}\b",
    rf"\bya\s+no\s+(?:quiero\s+)?(?:recibir\s+)?(?:mas\s+)?{_MENSAJES}\b",
    rf"\bno\s+mas\s+{_MENSAJES}\b",
    r"\b(?:darme|dame|denme|deme)\s+de\s+baja\b",
    r"\bcancel(?:ar|en|e)\s+(?:la\s+|mi\s+)?suscripcion\b",
]
_ENGLISH_PATTERN = re.compile("|".join(f"(?:{p})" for p in _ENGLISH_REQUESTS))
_SPANISH_PATTERN = re.compile("|".join(f"(?:{p})" for p in _SPANISH_REQUESTS))


@dataclass(frozen=True)
class KeywordMatch:
    """What an SMS asks of the channel rather than of the dialogue.

    Attributes:
        command: `opt_out`, `opt_in` or `help`.
        source: `keyword` for a bare keyword, `request` for a sentence.
        language: `es` when the word or sentence is Spanish, `en` when it is
            English, None when the keyword is the same in both.
    """

    command: str
    source: str
    language: str | None


def bare_keyword(text: str) -> str:
    """Return the message as one lowercase word without spaces or punctuation."""
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", text)).casefold()


def is_opt_out_keyword(text: str) -> bool:
    """Whether the whole message is a carrier opt-out keyword."""
    return bare_keyword(text) in OPT_OUT_KEYWORDS


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    plain = plain.replace("\u2019", "'").replace("\u2018", "'")
    return _SPACES.sub(" ", plain).strip(" .!?¡¿,;:")


def classify_keyword(text: str) -> KeywordMatch | None:
    """Match a message against the opt-out, opt-in and help keywords and requests.

    Args:
        text: The member's whole message.

    Returns:
        The command the message asks for, or None for ordinary text. An
        opt-in keyword is returned whether or not the number is opted out;
        the caller treats it as ordinary text when it is not.
    """
    word = bare_keyword(text)
    language = "es" if word in SPANISH_KEYWORDS else None
    if word in OPT_OUT_KEYWORDS:
        return KeywordMatch(OPT_OUT, "keyword", language)
    if word in OPT_IN_KEYWORDS:
        return KeywordMatch(OPT_IN, "keyword", language)
    if word in HELP_KEYWORDS:
        return KeywordMatch(HELP, "keyword", language)

    folded = _fold(text)
    if _SPANISH_PATTERN.search(folded):
        return KeywordMatch(OPT_OUT, "request", "es")
    if _ENGLISH_PATTERN.search(folded):
        return KeywordMatch(OPT_OUT, "request", "en")
    return None
