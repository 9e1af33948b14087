"""Opt-out, opt-in and help keywords, and plain requests to stop the texts."""

from __future__ import annotations

import pytest

from bot.sms_keywords import (
    HELP,
    OPT_IN,
    OPT_OUT,
    bare_keyword,
    classify_keyword,
    is_opt_out_keyword,
)

KEYWORDS = [
    # (message, command, source, language)
    ("STOP", OPT_OUT, "keyword", None),
    ("stop", OPT_OUT, "keyword", None),
    (" Stop! ", OPT_OUT, "keyword", None),
    ("S T O P", OPT_OUT, "keyword", None),
    ("stop.", OPT_OUT, "keyword", None),
    ("STOP 🛑", OPT_OUT, "keyword", None),
    ("\uff33\uff34\uff2f\uff30", OPT_OUT, "keyword", None),  # full-width letters
    ("StopAll", OPT_OUT, "keyword", None),
    ("stop all", OPT_OUT, "keyword", None),
    ("UNSUBSCRIBE", OPT_OUT, "keyword", None),
    ("cancel", OPT_OUT, "keyword", None),
    ("End", OPT_OUT, "keyword", None),
    ("quit!!", OPT_OUT, "keyword", None),
    ("ALTO", OPT_OUT, "keyword", "es"),
    ("parar", OPT_OUT, "keyword", "es"),
    ("Cancelar.", OPT_OUT, "keyword", "es"),
    ("START", OPT_IN, "keyword", None),
    ("unstop", OPT_IN, "keyword", None),
    ("Yes", OPT_IN, "keyword", None),
    ("HELP", HELP, "keyword", None),
    ("info?", HELP, "keyword", None),
    ("Ayuda", HELP, "keyword", "es"),
]

REQUESTS = [
    ("please stop texting me", "en"),
    ("Stop sending me messages", "en"),
    ("stop the texts", "en"),
    ("don't text me anymore", "en"),
    ("Don\u2019t message me", "en"),
    ("do not text me", "en"),
    ("no more texts please", "en"),
    ("unsubscribe me", "en"),
    ("please unsubscribe me from these texts", "en"),
    ("opt me out", "en"),
    ("I want to opt out of the text messages", "en"),
    ("take me off your list", "en"),
    ("no me manden más mensajes", "es"),
    ("No me manden mas", "es"),
    ("dejen de mandarme mensajes", "es"),
    ("deja de escribirme", "es"),
    ("ya no quiero recibir mensajes", "es"),
    ("no quiero más textos", "es"),
    ("denme de baja", "es"),
    ("quiero cancelar mi suscripción", "es"),
]

ORDINARY = [
    "I want to stop smoking",
    "stop the questions",
    "can we stop the screening",
    "end the screening",
    "how do I opt out of ECM",
    "I quit my job last month",
    "no more questions",
    "the end",
    "yes please",
    "start over",
    "help me find housing",
    "I need help",
    "information about meals",
    "pare de fumar",
    "quiero dejar de tomar",
    "🛑",
    "",
    "stop2",
    "don't stop texting me",
    "please do not stop the messages",
    "no dejen de mandarme mensajes",
]


@pytest.mark.parametrize("text, command, source, language", KEYWORDS)
def test_keyword_is_recognised(text, command, source, language):
    match = classify_keyword(text)

    assert match is not None
    assert match.command == command
    assert match.source == source
    assert match.language == language


@pytest.mark.parametrize("text, language", REQUESTS)
def test_request_opts_out(text, language):
    match = classify_keyword(text)

    assert match is not None
    assert match.command == OPT_OUT
    assert match.source == "request"
    assert match.language == language


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_is_no_keyword(text):
    assert classify_keyword(text) is None


@pytest.mark.parametrize(
    "text, expected",
    [("S.T.O.P", "stop"), (" end ", "end"), ("Stop all!", "stopall"), ("", "")],
)
def test_bare_keyword(text, expected):
    assert bare_keyword(text) == expected


@pytest.mark.parametrize(
    "text, expected", [("STOP", True), ("Alto", True), ("stop smoking", False)]
)
def test_is_opt_out_keyword(text, expected):
    assert is_opt_out_keyword(text) is expected
