"""Member-facing replies rendered from the real domain, in English and Spanish.

Rasa's own response generator renders each response with the contact slots
that `action_session_start` sets, so the checks see the text a member gets.
"""

from __future__ import annotations

import pytest
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

from bot.contacts import contact_slots
from bot.settings import PROJECT_ROOT

NOT_OFFERED = "utter_service_not_offered"
DOMAIN = Domain.load(str(PROJECT_ROOT / "domain.yml"))

# Words that name each of the seven Community Supports HPSM offers, in the
# order the reply lists them.
OFFERED = {
    "en": ["find a home", "move-in costs", "keep your home", "assisted living",
           "nursing home to a home", "home safe", "meals"],
    "es": ["encontrar casa", "mudarse", "mantener su casa", "vida asistida",
           "asilo a una casa", "casa segura", "comidas"],
}
MEMBER_SERVICES = {"en": "Member Services", "es": "Servicios para Miembros"}


async def render(response: str, language: str) -> str:
    tracker = DialogueStateTracker.from_events(
        "test",
        [SlotSet("language", language)]
        + [SlotSet(name, value) for name, value in contact_slots(language).items()],
        slots=DOMAIN.slots,
    )
    generator = TemplatedNaturalLanguageGenerator(DOMAIN.responses)
    message = await generator.generate(response, tracker, "rest")
    assert message is not None, f"{response} is missing from the domain"
    return message["text"]


def test_not_offered_declared():
    assert "service_not_offered" in DOMAIN.intents
    assert NOT_OFFERED in DOMAIN.responses


@pytest.mark.parametrize("language", ["en", "es"])
async def test_not_offered_lists_seven_supports(language):
    text = (await render(NOT_OFFERED, language)).lower()
    positions = [text.find(words.lower()) for words in OFFERED[language]]
    assert -1 not in positions, dict(zip(OFFERED[language], positions))
    assert positions == sorted(positions)


@pytest.mark.parametrize("language", ["en", "es"])
async def test_not_offered_gives_member_services(language):
    text = await render(NOT_OFFERED, language)
    slots = contact_slots(language)
    assert MEMBER_SERVICES[language] in text
    assert slots["phone_member_services"] in text
    assert slots["hours_member_services"] in text
    assert "{" not in text


async def test_not_offered_reply_in_spanish():
    assert await render(NOT_OFFERED, "es") != await render(NOT_OFFERED, "en")


@pytest.mark.parametrize("language", ["en", "es"])
async def test_not_offered_no_crisis_numbers(language):
    text = await render(NOT_OFFERED, language)
    assert "988" not in text
    assert "911" not in text


# The web chat shows members the note "HPSM staff who help you can read this
# conversation", so the greeting must not promise that what they write is
# private.
GREETING_STAFF_NOTE = {
    "en": "HPSM staff who help you can read",
    "es": "El personal de HPSM que le ayuda puede leer",
}


@pytest.mark.parametrize("language", ["en", "es"])
async def test_greeting_says_staff_can_read(language):
    text = await render("utter_greet", language)
    assert GREETING_STAFF_NOTE[language] in text


@pytest.mark.parametrize("language", ["en", "es"])
async def test_greeting_promises_no_privacy(language):
    text = (await render("utter_greet", language)).lower()
    assert "private" not in text
    assert "privado" not in text
