"""SMS opt-outs: numbers that sent STOP (or asked in words) get no more SMS.

An opt-out lasts until the number sends START, UNSTOP or YES. The outbox
marks every pending row to an opted-out number `failed` instead of sending
it, except the kinds in `OPT_OUT_EXEMPT_KINDS`: the one confirmation of the
opt-out itself, and the crisis SMS.

Every function works in the caller's session and transaction and blocks.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from bot.models import SmsOptOut, utcnow

OPT_OUT_CONFIRMATION_KIND = "opt_out_confirmation"
CRISIS_KIND = "crisis"
# NOTE: with Twilio's Advanced Opt-Out on, Twilio rejects even these with
# error 21610 after a STOP; the sender stores that on the row.
OPT_OUT_EXEMPT_KINDS = (OPT_OUT_CONFIRMATION_KIND, CRISIS_KIND)
OPTED_OUT_ERROR = "not sent: the number opted out of SMS (STOP)"


def opted_out_phones() -> Select:
    """Build a SELECT of every phone number that is opted out now."""
    return select(SmsOptOut.phone).where(SmsOptOut.opted_in_at.is_(None))


def is_opted_out(session: Session, phone: str) -> bool:
    """Return True if `phone` is opted out now."""
    row = session.get(SmsOptOut, phone)
    return row is not None and row.opted_in_at is None


def record_opt_out(
    session: Session,
    phone: str,
    *,
    source: str,
    language: str,
    now: datetime | None = None,
) -> bool:
    """Opt `phone` out of SMS.

    Args:
        session: The caller's open session.
        phone: E.164 number.
        source: `keyword` or `request`.
        language: `en` or `es`, the language of the confirmation.
        now: Time of the opt-out (default: now).

    Returns:
        True if the number was not opted out before this call.
    """
    now = now or utcnow()
    row = session.get(SmsOptOut, phone)
    if row is None:
        session.add(
            SmsOptOut(
                phone=phone, source=source, language=language, opted_out_at=now
            )
        )
        session.flush()
        return True
    if row.opted_in_at is None:
        return False
    row.source = source
    row.language = language
    row.opted_out_at = now
    row.opted_in_at = None
    session.flush()
    return True


def record_opt_in(session: Session, phone: str, now: datetime | None = None) -> bool:
    """Opt `phone` in again; return True if it was opted out."""
    row = session.get(SmsOptOut, phone)
    if row is None or row.opted_in_at is not None:
        return False
    row.opted_in_at = now or utcnow()
    session.flush()
    return True
