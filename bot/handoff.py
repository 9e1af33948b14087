"""Hand-off to HPSM Care Coordination: from conversation slots to a ticket."""

from __future__ import annotations

import asyncio
import re
from datetime import date
from functools import lru_cache
from typing import Any, Iterable

from bot.answers import last_four
from bot.screening_view import services_of_interest

HANDOFF_SLOTS = (
    "handoff_name",
    "handoff_phone",
    "handoff_member_id",
    "handoff_language",
    "handoff_call_time",
    "handoff_consent",
    "handoff_confirm",
)
LANGUAGE_NAMES = {"en": "English", "es": "Spanish", "zh": "Chinese", "tl": "Tagalog"}
# Words a member uses to say which detail to fix, mapped to the slot.
_DETAIL_WORDS = (
    (re.compile(r"\b(name|nombre)\b"), "handoff_name"),
    (re.compile(r"\b(phone|number|cell|tel[eé]fono|n[uú]mero)\b"), "handoff_phone"),
    (re.compile(r"\b(time|hour|when|hora)\b"), "handoff_call_time"),
    (re.compile(r"\b(language|idioma)\b"), "handoff_language"),
    (re.compile(r"\b(id|birth|dob|birthday|nacimiento)\b"), "handoff_member_id"),
)
_DETAIL_ENTITY = {
    "name": "handoff_name",
    "phone": "handoff_phone",
    "call_time": "handoff_call_time",
    "language": "handoff_language",
    "member_id": "handoff_member_id",
}


MAX_NAME_CHARS = 80
MAX_NAME_WORDS = 6
_NAME_WORD = re.compile(r"^[^\W\d_]+(?:['\u2019.-][^\W\d_]*)*$")
# A greeting or a yes may come before "my name is", as in "Hi, I'm Bob".
# NOTE: "im" (for "I'm") also matches the Korean surname Im, so "Im Kwon" is
# read as "Kwon".
_NAME_LEAD_IN = re.compile(
    r"^(?:(?:hi|hello|hey|hola|yes|yeah|sure|ok|okay|s[ií]|claro)[\s,.!]+)?"
    r"(?:my name is|my name's|name is|i am|i['\u2019]m|im|it['\u2019]s|its|"
    r"this is|(?:you can |just |please )?call me|me llamo|mi nombre es|"
    r"me dicen|ll[aá]meme|ll[aá]menme|d[ií]game|d[ií]ganme|soy)\s+",
    re.IGNORECASE,
)
_POLITE_ENDING = re.compile(
    r"[\s,]+(?:please|thanks|thank you|por favor|gracias)$", re.IGNORECASE
)
_QUESTION_WORDS = frozenset(
    "what why how who when where which qué por cómo quién cuándo dónde".split()
)
# Words of replies to the name question that give no name: yes and no, skips,
# "I don't know", thanks, greetings and times of day, in English and Spanish.
# A reply made only of these words is rejected, but a name that contains one,
# such as "Maria Claro" or "No Hyun", is not.
_NON_NAME_REPLY_WORDS = frozenset(
    """
    yes yeah yep yup ok okay sure fine alright no nope nah none nothing nobody
    skip pass cancel stop never mind nevermind forget maybe idk dunno unknown
    anonymous i don't dont know
    thanks thank you please it this that one just rather prefer say to
    hi hello hey good great well here today tomorrow later now morning
    afternoon evening night anytime soon asap back
    sí si vale claro omitir saltar paso ninguno ninguna nadie gracias sé se
    nose quizás quizas prefiero decir cancelar cancela olvídalo olvidalo hola
    ahora luego después despues mañana manana tarde noche
    """.split()
)
# Words that make a reply a sentence, such as "I want someone to call me", and
# that are rare in personal names. Words that are also common names or name
# parts ("my", "to", "do", "will", "van", "de") are left out on purpose.
_SENTENCE_WORDS = frozenset(
    """
    i me you your yours we our us they them their it someone somebody anyone
    anybody everyone not don't dont can't cant cannot won't wont want wants
    need needs call talk speak help please the is are was were have has had
    would could should does tell give know name number phone thanks thank
    quiero necesito alguien llamar llamen llame hablar ayuda usted favor
    gracias nombre número numero teléfono telefono dar
    """.split()
)


def read_name(text: str) -> str | None:
    """Return the text as a person's name, or None if it does not read as one.

    A name is one to six words of letters (with inner apostrophes, hyphens or
    periods). A lead-in such as "my name is" or "call me" and a closing
    "please" are dropped. Questions, sentences and replies such as "yes",
    "no thanks", "skip" or "no sé" are not names. The intent classifier is not
    trusted here: unusual names often look like other intents to it.
    """
    name = re.sub(r"\s+", " ", text).strip()
    name = _NAME_LEAD_IN.sub("", name + " ").strip()
    name = _POLITE_ENDING.sub("", name).strip(" .!")
    words = name.split(" ")
    if not 1 < len(name) <= MAX_NAME_CHARS or len(words) > MAX_NAME_WORDS:
        return None
    if "?" in name or not all(_NAME_WORD.match(word) for word in words):
        return None

    keys = [word.casefold().replace("\u2019", "'").rstrip(".") for word in words]
    if keys[0] in _QUESTION_WORDS:
        return None
    if all(key in _NON_NAME_REPLY_WORDS for key in keys):
        return None
    if any(key in _SENTENCE_WORDS for key in keys):
        return None
    return name


def detail_to_fix(text: str, entities: Iterable[dict]) -> str | None:
    """Return the hand-off slot a member wants to change, if they named one."""
    for entity in entities:
        if entity.get("entity") == "detail" and entity.get("value") in _DETAIL_ENTITY:
            return _DETAIL_ENTITY[entity["value"]]
    lowered = text.casefold()
    for pattern, slot in _DETAIL_WORDS:
        if pattern.search(lowered):
            return slot
    return None


def _member_reference(value: str | None) -> tuple[str | None, date | None]:
    """Split the member-id slot into a member id or a date of birth."""
    if not value or value == "skipped":
        return None, None
    kind, _, rest = value.partition(":")
    if kind == "id":
        return rest, None
    if kind == "dob":
        return None, date.fromisoformat(rest)
    return None, None


def summary_values(slots: dict[str, Any], phone: str | None) -> dict[str, str]:
    """Return the values that the read-back response shows.

    Only the phone number's last four digits and a masked member id are shown.
    """
    member_id, born = _member_reference(slots.get("handoff_member_id"))
    if member_id:
        member_display = "ID ending in " + member_id[-3:]
    elif born:
        member_display = "date of birth given"
    else:
        member_display = "not given"
    language = slots.get("handoff_language") or slots.get("language") or "en"
    return {
        "name": slots.get("handoff_name") or "",
        "phone_last_four": last_four(phone) if phone else "----",
        "member_id_display": member_display,
        "language_display": LANGUAGE_NAMES.get(language, language),
        "call_time": slots.get("handoff_call_time") or "any time",
    }


def build_request(
    slots: dict[str, Any], conversation_id: str, channel: str, phone: str | None
):
    """Build the ticket repository's hand-off request from conversation slots."""
    from bot.tickets import HandoffRequest

    member_id, born = _member_reference(slots.get("handoff_member_id"))
    result = slots.get("screening_result")
    scope = slots.get("screening_scope")
    services = services_of_interest(result, scope) if result else list(scope or [])
    return HandoffRequest(
        conversation_id=conversation_id,
        handoff_id=slots.get("handoff_id") or "default",
        channel=channel,
        name=slots.get("handoff_name"),
        phone=phone,
        member_id=member_id,
        date_of_birth=born,
        preferred_language=slots.get("handoff_language") or slots.get("language"),
        call_time=slots.get("handoff_call_time"),
        consent_contact=slots.get("handoff_consent") == "yes",
        consent_share_screening=slots.get("handoff_consent") == "yes",
        services=services,
        screening_profile=slots.get("screening_profile") or None,
        screening_result=result,
    )


@lru_cache(maxsize=1)
def _repository():
    from bot.db import get_session_factory
    from bot.tickets import TicketRepository

    return TicketRepository(get_session_factory())


async def create_ticket(request):
    """Create the ticket and its SMS outbox row in a worker thread."""
    return await asyncio.to_thread(_repository().create_from_handoff, request)
