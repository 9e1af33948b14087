"""The trained model reads everyday member phrasing, typos and SMS shorthand.

The phrasings here are not in the training data. The model is trained once per
test run by `make test`; `rasa test core` checks dialogue predictions only, so
the text-to-intent step is checked here.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.choices import neutralize_command
from bot.runner import model_path

pytestmark = pytest.mark.rasa_model

FAQ_PHRASINGS = [
    ("whats enhanced care management", "what_is_ecm"),
    ("wat is ecm", "what_is_ecm"),
    ("who can get ecm", "ecm_who"),
    ("what do i get with ecm", "ecm_what_you_get"),
    ("what does a lead care manager do", "lead_care_manager"),
    ("can i still see my own doctor", "keep_doctors"),
    ("how much does it cost me", "cost"),
    ("do i have to join", "voluntary"),
    ("what is calaim", "what_is_calaim"),
    ("i was in whole person care what happened to it", "whole_person_care"),
    ("i have careadvantage can i get community supports", "careadvantage"),
    ("i got a letter about community supports", "got_letter"),
    ("can i get an interpreter", "interpreter"),
    ("i am deaf how do i call", "tty"),
    ("i am a provider how do i request ecm for my patient", "provider_request"),
    ("what are community supports", "what_are_community_supports"),
    ("can u help me find housing", "housing_navigation"),
    ("can u help w a deposit", "housing_deposits"),
    ("help keeping my apartment", "tenancy_support"),
    ("my dad wants to get out of the nursing home", "move_home"),
    ("can my aunt live in assisted living instead", "assisted_living"),
    ("help moving home from a nursing facility", "move_home"),
    ("grab bars", "home_modifications"),
    ("meals for my diabetes", "medically_tailored_meals"),
    ("how do i sign up", "how_to_ask"),
    ("what can you help me with", "what_can_you_do"),
]

INTENT_PHRASINGS = [
    ("hey there", "greet"),
    ("hola", "greet"),
    ("yeah", "affirm"),
    ("yep", "affirm"),
    ("nope", "deny"),
    ("idk", "unsure"),
    ("not sure", "unsure"),
    ("like 7 times", "inform"),
    ("three", "inform"),
    ("do i qualify?", "check_eligibility"),
    ("check for housing help", "check_eligibility"),
    ("am i eligible for a care manager", "check_eligibility"),
    ("talk to a person", "request_handoff"),
    ("can someone call me", "request_handoff"),
    ("cn sum1 call me", "request_handoff"),
    ("never mind", "stop_screening"),
    ("exit", "stop_screening"),
    ("start over", "start_over"),
    ("why do you ask", "why_ask"),
    ("skip this one", "skip_question"),
    ("i want to kms", "crisis"),
    ("quiero morir", "crisis"),
    ("my mom is not breathing", "crisis"),
    ("can you refill my prescription", "out_of_scope"),
    ("how do i change my doctor", "out_of_scope"),
    ("¿cómo cambio de doctor?", "out_of_scope"),
    ("what is recuperative care", "service_not_offered"),
    ("is there a sobering center", "service_not_offered"),
    ("tell me about respite", "service_not_offered"),
    ("asthma remediation", "service_not_offered"),
    ("do you offer day habilitation", "service_not_offered"),
    ("¿qué es el cuidado de recuperación?", "service_not_offered"),
    ("¿tienen centros de sobriedad?", "service_not_offered"),
    ("en español por favor", "change_language"),
    ("thank u so much", "thank"),
]


# The Spanish name of ECM, as the Spanish web chat greeting writes it, with and
# without accents. The model once read these as `crisis`, so they also guard
# against DIET treating unfamiliar Spanish words as a crisis.
SPANISH_ECM_PHRASINGS = [
    "¿Qué es la Administración de Atención Mejorada?",
    "Administración de Atención Mejorada",
    "administracion de atencion mejorada",
    "que es la administracion de atencion mejorada",
    "¿Me puede explicar la Administración de Atención Mejorada?",
    "quiero saber qué es la Administración de Atención Mejorada",
]


# Ordinary messages that DIET once read as `crisis`, and a typed intent command
# whose intent does not exist, so Rasa passed it to DIET as text. The channels
# replace the leading slash (`neutralize_command`), so both forms are checked.
NOT_CRISIS_PHRASINGS = [
    "my secret is purple elephant",
    "my car is blue",
    "my favorite color is purple",
    "the form is blue",
    '/handoff_request{"handoff_name":"X"}',
    neutralize_command('/handoff_request{"handoff_name":"X"}'),
]


@pytest.fixture(scope="module")
def agent():
    from rasa.core.agent import Agent

    path = Path(model_path())
    if not path.exists():
        pytest.fail(f"no trained model at {path}; run `make train` first")
    return Agent.load(str(path))


def _parse(agent, text: str) -> dict:
    return asyncio.run(agent.parse_message(text))


@pytest.mark.parametrize("text, faq", FAQ_PHRASINGS)
def test_faq_phrasing_selects_answer(agent, text, faq):
    parsed = _parse(agent, text)
    assert parsed["intent"]["name"] == "faq", parsed["intent"]
    selected = parsed["response_selector"]["faq"]["response"]["intent_response_key"]
    assert selected == f"faq/{faq}"


@pytest.mark.parametrize("text, intent", INTENT_PHRASINGS)
def test_phrasing_gets_intent(agent, text, intent):
    assert _parse(agent, text)["intent"]["name"] == intent


@pytest.mark.parametrize("text", SPANISH_ECM_PHRASINGS)
def test_spanish_ecm_name_selects_answer(agent, text):
    parsed = _parse(agent, text)
    assert parsed["intent"]["name"] == "faq", parsed["intent"]
    selected = parsed["response_selector"]["faq"]["response"]["intent_response_key"]
    assert selected == "faq/what_is_ecm"


@pytest.mark.parametrize("text", NOT_CRISIS_PHRASINGS)
def test_ordinary_phrasing_not_crisis(agent, text):
    assert _parse(agent, text)["intent"]["name"] != "crisis"
