"""Twilio webhook forms, the public URL and signatures, without a server."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from multidict import MultiDict
from twilio.request_validator import RequestValidator

from bot.sms_format import MAX_SMS_CHARS
from bot.twilio_webhook import (
    WebhookFormError,
    clean_text,
    inbound_from_fields,
    parse_form,
    public_url,
    signature_valid,
)

TOKEN = "webhook-test-token"
SID = "SM" + "0123456789abcdef" * 2
URL = "https://sms.example.org/webhooks/twilio/webhook"


def fields(**overrides) -> list[tuple[str, str]]:
    base = {
        "MessageSid": SID,
        "From": "+16505550123",
        "To": "+16505550000",
        "Body": "hello",
        "NumMedia": "0",
    }
    base.update(overrides)
    return [(name, value) for name, value in base.items() if value is not None]


def sign(url: str, form: list[tuple[str, str]], token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, MultiDict(form))


@pytest.mark.parametrize(
    "body, expected",
    [
        (b"Body=&From=%2B1", [("Body", ""), ("From", "+1")]),
        (b"Body=hola+%C2%BFqu%C3%A9%3F", [("Body", "hola ¿qué?")]),
        (b"Body=a&Body=b", [("Body", "a"), ("Body", "b")]),
        (b"", []),
    ],
)
def test_parse_form(body, expected):
    assert parse_form(body) == expected


@pytest.mark.parametrize(
    "body",
    [b"Body=%FF", b"no equals sign", b"\xff\xfe=1", b"&".join([b"a=1"] * 101)],
)
def test_parse_form_rejects(body):
    with pytest.raises(WebhookFormError):
        parse_form(body)


@pytest.mark.parametrize(
    "base, headers, expected",
    [
        ("https://public.example.org", {}, "https://public.example.org/p?x=1"),
        (
            "https://public.example.org",
            {"X-Forwarded-Host": "other.example.org"},
            "https://public.example.org/p?x=1",
        ),
        (
            None,
            {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "sms.example.org"},
            "https://sms.example.org/p?x=1",
        ),
        (
            None,
            {
                "X-Forwarded-Proto": "http, https",
                "X-Forwarded-Host": "a.example:8443, b",
            },
            "http://a.example:8443/p?x=1",
        ),
        (
            None,
            {"X-Forwarded-Host": "sms.example.org"},
            "https://sms.example.org/p?x=1",
        ),
        (
            None,
            {"X-Forwarded-Proto": "gopher", "X-Forwarded-Host": "sms.example.org"},
            "https://sms.example.org/p?x=1",
        ),
        (None, {"X-Forwarded-Host": "bad host/x"}, "http://127.0.0.1:5005/p?x=1"),
        (None, {}, "http://127.0.0.1:5005/p?x=1"),
    ],
)
def test_public_url(base, headers, expected):
    url = public_url("http://127.0.0.1:5005/p?x=1", "/p", "x=1", headers, base)

    assert url == expected


def test_signature_valid():
    form = fields()

    assert signature_valid(TOKEN, URL, form, sign(URL, form)) is True


@pytest.mark.parametrize(
    "case",
    ["missing", "empty", "wrong_token", "other_url", "changed_body", "added_field"],
)
def test_signature_invalid(case):
    form = fields()
    signature = sign(URL, form)
    url = URL
    if case == "missing":
        signature = None
    elif case == "empty":
        signature = ""
    elif case == "wrong_token":
        signature = sign(URL, form, token="other-token")
    elif case == "other_url":
        url = URL.replace("sms.", "www.")
    elif case == "changed_body":
        form = fields(Body="talk to a person")
    elif case == "added_field":
        form = form + [("NumMedia", "1")]

    assert signature_valid(TOKEN, url, form, signature) is False


def test_signature_covers_empty_and_repeated_fields():
    form = fields(Body="") + [("MediaUrl0", "https://media.example/a.jpg")]
    signature = sign(URL, form)

    assert signature_valid(TOKEN, URL, form, signature) is True
    without_empty = [(name, value) for name, value in form if value]
    assert signature_valid(TOKEN, URL, without_empty, signature) is False


def test_signature_of_fixed_example():
    # A signature fixed in advance, so a change in how the fields reach the
    # validator (order, query string, repeated names) fails here.
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    form = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+12349013030"),
        ("Digits", "1234"),
        ("From", "+12349013030"),
        ("To", "+18005551212"),
    ]

    assert signature_valid("12345", url, form, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")


def test_inbound_from_fields():
    message = inbound_from_fields(fields(Body="  hello\x00 there\x07 "))

    assert message.message_sid == SID
    assert message.phone == "+16505550123"
    assert message.body == "hello there"
    assert message.num_media == 0
    assert message.truncated is False
    assert "6505550123" not in repr(message)


def test_inbound_long_body_truncated():
    message = inbound_from_fields(fields(Body="é" * (MAX_SMS_CHARS + 5)))

    assert len(message.body) == MAX_SMS_CHARS
    assert message.truncated is True


def test_inbound_sms_message_sid_alias():
    message = inbound_from_fields(fields(MessageSid=None, SmsMessageSid=SID))

    assert message.message_sid == SID


@pytest.mark.parametrize(
    "overrides",
    [
        {"MessageSid": None},
        {"MessageSid": "SM123"},
        {"MessageSid": "SM" + "g" * 32},
        {"From": None},
        {"From": "6505550123"},
        {"From": "whatsapp:+16505550123"},
        {"From": "+0123456789"},
        {"NumMedia": "-1"},
        {"NumMedia": "two"},
        {"NumMedia": "11"},
    ],
)
def test_inbound_rejects_invalid_fields(overrides):
    with pytest.raises(WebhookFormError):
        inbound_from_fields(fields(**overrides))


def test_inbound_rejects_repeated_field():
    with pytest.raises(WebhookFormError, match="Body"):
        inbound_from_fields(fields() + [("Body", "second")])


@pytest.mark.parametrize(
    "text, expected",
    [
        ("hi\r\n", "hi"),
        ("line one\nline two", "line one\nline two"),
        ("\x1b[31mred", "[31mred"),
        ("caf\u00e9 \U0001f44b", "caf\u00e9 \U0001f44b"),
        ("\x85next", "next"),
    ],
)
def test_clean_text(text, expected):
    assert clean_text(text) == expected


def test_form_round_trip_through_urlencode():
    form = fields(Body="¿Qué es ECM? 🙏 & más")
    body = urlencode(form).encode()

    assert parse_form(body) == form
