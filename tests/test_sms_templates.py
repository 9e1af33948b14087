"""SMS templates: both languages, no health information, GSM-7, short."""

from __future__ import annotations

import re
import unicodedata

import pytest

from bot.contacts import load_contacts
from bot.sms import (
    MAX_SEGMENTS,
    SMS_LANGUAGES,
    SmsTemplateError,
    load_templates,
    render_sms,
    sms_language,
)
from bot.sms_format import is_gsm7, segment_count

KINDS = (
    "ticket_confirmation",
    "opt_out_confirmation",
    "opt_in_confirmation",
    "help",
    "crisis",
    "media_not_supported",
    "empty_message",
    "too_long",
    "rate_limited",
    "turn_failed",
    "status_contact_attempted",
    "status_referred_to_provider",
    "status_authorized",
    "status_not_authorized",
    "status_services_started",
    "status_closed",
)

# Terms that would tell a reader of the phone's lock screen something about
# the member's health, benefits or circumstances. Matched as whole words,
# ignoring case and accents.
HEALTH_TERMS_EN = [
    "mental health", "behavioral", "psychiatric", "depression", "anxiety",
    "bipolar", "schizophrenia", "suicide", "suicidal", "self-harm",
    "substance", "alcohol", "drug", "drugs", "addiction", "opioid",
    "overdose", "sud", "smi", "sobering", "detox", "hiv", "aids", "cancer",
    "diabetes", "dialysis", "asthma", "dementia", "disability", "diagnosis",
    "condition", "chronic", "pregnant", "pregnancy", "postpartum", "prenatal",
    "birth", "hospice", "pace", "nursing facility", "nursing home",
    "long-term care", "hospital", "emergency room", "emergency department",
    "er visit", "inpatient", "discharge", "recuperative", "respite",
    "housing", "homeless", "homelessness", "unhoused", "shelter", "eviction",
    "tenancy", "deposit", "deposits", "jail", "prison", "incarceration",
    "justice", "enhanced care management", "ecm", "community supports",
    "calaim", "medi-cal", "medicaid", "medically tailored", "meals",
    "assisted living", "home modifications", "whole person care",
    "screening", "eligible", "eligibility", "qualify", "crisis",
]
HEALTH_TERMS_ES = [
    "salud mental", "conductual", "psiquiatrico", "depresion", "ansiedad",
    "bipolar", "esquizofrenia", "suicidio", "suicida", "autolesion",
    "sustancias", "alcohol", "droga", "drogas", "adiccion", "opioides",
    "sobredosis", "desintoxicacion", "vih", "sida", "cancer", "diabetes",
    "dialisis", "asma", "demencia", "discapacidad", "diagnostico",
    "condicion", "cronica", "cronico", "embarazada", "embarazo", "posparto",
    "prenatal", "parto", "hospicio", "centro de enfermeria", "hogar de ancianos",
    "cuidado a largo plazo", "hospital", "hospitalizacion",
    "sala de emergencias", "alta medica", "vivienda", "sin hogar",
    "desamparado", "refugio", "desalojo", "alquiler", "deposito", "carcel",
    "prision", "encarcelamiento", "atencion mejorada",
    "administracion de atencion mejorada", "apoyos comunitarios", "medi-cal",
    "comidas", "vida asistida", "modificaciones al hogar",
    "evaluacion", "elegible", "elegibilidad", "califica", "crisis",
]


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def health_terms_in(text: str) -> list[str]:
    folded = _fold(text)
    return [
        term
        for term in HEALTH_TERMS_EN + HEALTH_TERMS_ES
        if re.search(rf"(?<![\w-]){re.escape(_fold(term))}(?![\w-])", folded)
    ]


CASES = [(kind, language) for kind in KINDS for language in SMS_LANGUAGES]


def test_every_kind_has_both_languages():
    templates = load_templates()

    assert set(templates) == set(KINDS)
    for kind in KINDS:
        assert set(templates[kind]) == set(SMS_LANGUAGES), kind


def test_languages_differ():
    templates = load_templates()

    for kind in KINDS:
        assert templates[kind]["en"] != templates[kind]["es"], kind


@pytest.mark.parametrize("kind, language", CASES)
def test_template_has_no_health_terms(kind, language):
    raw = load_templates()[kind][language]
    rendered = render_sms(kind, language, reference="HP-7KQ4MX")

    assert health_terms_in(raw) == []
    assert health_terms_in(rendered) == []


@pytest.mark.parametrize("kind, language", CASES)
def test_rendered_is_gsm7_and_short(kind, language):
    body = render_sms(kind, language, reference="HP-7KQ4MX")

    assert is_gsm7(body), [char for char in body if not is_gsm7(char)]
    assert segment_count(body) <= MAX_SEGMENTS
    assert "{" not in body
    assert "}" not in body
    assert "  " not in body


@pytest.mark.parametrize("language", SMS_LANGUAGES)
def test_confirmation_content(language):
    contacts = load_contacts()
    body = render_sms("ticket_confirmation", language, reference="HP-7KQ4MX")

    assert "HP-7KQ4MX" in body
    assert contacts["member_services"] in body
    assert contacts["tty"] in body
    assert "2 " in body  # about 2 business days
    assert "STOP" in body


@pytest.mark.parametrize("language", SMS_LANGUAGES)
def test_crisis_content(language):
    body = render_sms("crisis", language)

    assert "988" in body
    assert "911" in body


@pytest.mark.parametrize(
    "language, expected_word",
    [("es", "Recibimos"), ("es-MX", "Recibimos"), ("Spanish", "Recibimos"),
     ("en", "We got"), ("zh", "We got"), (None, "We got"), ("", "We got")],
)
def test_unknown_language_falls_back_to_english(language, expected_word):
    body = render_sms("ticket_confirmation", language, reference="HP-7KQ4MX")

    assert expected_word in body


@pytest.mark.parametrize(
    "value, expected",
    [("es", "es"), ("ES", "es"), ("es_US", "es"), ("español", "es"),
     ("espanol", "es"), ("en-US", "en"), ("tl", "en"), (None, "en")],
)
def test_sms_language(value, expected):
    assert sms_language(value) == expected


def test_unknown_kind_raises():
    with pytest.raises(SmsTemplateError):
        render_sms("appointment_reminder", "en")


def test_missing_value_raises():
    with pytest.raises(SmsTemplateError) as caught:
        render_sms("ticket_confirmation", "en")

    assert "reference" in str(caught.value)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Your housing request", ["housing"]),
        ("Salud Mental", ["salud mental"]),
        ("call about ECM", ["ecm"]),
        ("Recibimos su solicitud", []),
        ("Member Services", []),
    ],
)
def test_health_term_matcher(text, expected):
    assert health_terms_in(text) == expected
