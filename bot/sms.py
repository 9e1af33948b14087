"""SMS texts for the outbox, rendered from `bot/sms_templates.yml`.

The templates carry no health information and stay within three GSM-7
segments; `tests/test_sms_templates.py` checks both for every kind and
language.
"""

from __future__ import annotations

import logging
import string
from functools import lru_cache
from pathlib import Path

import yaml

from bot.contacts import load_contacts
from bot.sms_format import is_gsm7, segment_count

logger = logging.getLogger(__name__)

TEMPLATES_FILE = Path(__file__).with_name("sms_templates.yml")
SMS_LANGUAGES = ("en", "es")
DEFAULT_LANGUAGE = "en"
MAX_SEGMENTS = 3

_SPANISH_NAMES = {"es", "spa", "spanish", "espanol", "español"}


class SmsTemplateError(LookupError):
    """An SMS template is missing, or a value for one of its placeholders is."""


@lru_cache(maxsize=4)
def load_templates(path: Path = TEMPLATES_FILE) -> dict[str, dict[str, str]]:
    """Load the templates file as {kind: {language: text}}.

    Raises:
        SmsTemplateError: A kind has no English text, which is the fallback.
    """
    with open(path, encoding="utf-8") as handle:
        templates = yaml.safe_load(handle)
    for kind, texts in templates.items():
        if DEFAULT_LANGUAGE not in texts:
            raise SmsTemplateError(f"SMS template {kind!r} in {path} has no 'en' text")
    return templates


def sms_language(language: str | None) -> str:
    """Map a language slot value or tag ("es", "es-MX", "Spanish") to en or es.

    Any language without SMS templates maps to English.
    """
    base = (language or "").strip().lower().replace("_", "-").split("-")[0]
    full = (language or "").strip().lower()
    if base in _SPANISH_NAMES or full in _SPANISH_NAMES:
        return "es"
    return DEFAULT_LANGUAGE


def contact_values(language: str) -> dict[str, str]:
    """Return the contact placeholders for `language` from config/contacts.yml."""
    contacts = load_contacts()
    return {
        "phone_member_services": contacts["member_services"],
        "phone_tty": contacts["tty"],
        "hours_member_services": contacts["member_services_hours"][language],
        "crisis_line": contacts["crisis_line"],
        "emergency": contacts["emergency"],
    }


def render_sms(kind: str, language: str | None, **values: str) -> str:
    """Render the SMS text of `kind` in `language`.

    Contact numbers and hours are filled in from config/contacts.yml, and
    `values` adds or overrides placeholders (such as `reference`).

    Args:
        kind: Template name, a top-level key of `bot/sms_templates.yml`,
            such as `ticket_confirmation`, `opt_out_confirmation`, `help`
            or `crisis`.
        language: Language slot value; anything other than Spanish
            renders English.
        **values: Placeholder values.

    Returns:
        The message text.

    Raises:
        SmsTemplateError: `kind` is unknown or a placeholder has no value.
    """
    templates = load_templates()
    if kind not in templates:
        raise SmsTemplateError(
            f"Unknown SMS template {kind!r}; use one of {sorted(templates)}"
        )
    language = sms_language(language)
    text = templates[kind].get(language) or templates[kind][DEFAULT_LANGUAGE]

    fields = {**contact_values(language), **values}
    missing = sorted(
        name
        for _, name, _, _ in string.Formatter().parse(text)
        if name is not None and name not in fields
    )
    if missing:
        raise SmsTemplateError(
            f"SMS template {kind!r} ({language}) needs values for {missing}"
        )
    body = text.format_map(fields)

    segments = segment_count(body)
    if segments > MAX_SEGMENTS or not is_gsm7(body):
        # The text is still sent; the operator should shorten the template.
        logger.warning(
            "SMS %s (%s) takes %d segments, GSM-7: %s; limit is %d GSM-7 segments",
            kind,
            language,
            segments,
            is_gsm7(body),
            MAX_SEGMENTS,
        )
    return body
