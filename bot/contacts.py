"""Phone numbers and office hours, loaded from `config/contacts.yml`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from bot.settings import PROJECT_ROOT

CONTACTS_FILE = PROJECT_ROOT / "config" / "contacts.yml"


@lru_cache(maxsize=4)
def load_contacts(path: Path = CONTACTS_FILE) -> dict:
    """Return the contacts file as a dict."""
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def contact_slots(language: str = "en") -> dict[str, str]:
    """Return the slot values that responses use for contact details."""
    contacts = load_contacts()
    language = language if language in ("en", "es") else "en"
    return {
        "phone_member_services": contacts["member_services"],
        "phone_member_services_local": contacts["member_services_local"],
        "hours_member_services": contacts["member_services_hours"][language],
        "phone_careadvantage": contacts["careadvantage"],
        "hours_careadvantage": contacts["careadvantage_hours"][language],
        "phone_tty": contacts["tty"],
        "phone_county_medi_cal": contacts["county_medi_cal"],
        "fax_prior_auth": contacts["prior_auth_fax"],
    }
