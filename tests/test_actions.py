"""Custom actions run with real rasa-sdk trackers, the real domain and SQLite.

Each test builds the tracker that Rasa would send (see `tests.action_support`),
runs the action's `run` and checks the returned events and the responses the
dispatcher collected. Hand-off tests use a SQLite file migrated with Alembic,
reached through the same `DATABASE_URL` setting that production uses.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

import bot.handoff as handoff_module
from actions.handoff import (
    NAME_INTENTS_SKIPPED_BY_MAPPING,
    ActionAskHandoffConfirm,
    ActionAskHandoffPhone,
    ActionCreateTicket,
    ActionStartHandoff,
    ValidateHandoffForm,
)
from actions.safety import ActionCrisisPause
from actions.screening import (
    ActionScreeningResult,
    ActionStartScreening,
    ValidateScreeningForm,
)
from actions.session import ActionSessionStart, ActionSetLanguage
from bot import conversations
from bot.contacts import contact_slots
from bot.db import get_engine, get_session_factory, run_migrations
from bot.eligibility import RULE_SETS, next_question, open_questions, screen
from bot.handoff import HANDOFF_SLOTS
from bot.models import OutboxMessage
from bot.models import Ticket as TicketRow
from bot.questions import answer_kind
from bot.screening_view import result_responses, services_of_interest
from bot.settings import get_settings
from bot.topics import HOUSING_SERVICES
from tests.action_support import (
    CONVERSATION_ID,
    ActionOutcome,
    apply_events,
    initial_slots,
    load_domain,
    make_form_tracker,
    make_tracker,
    run_action,
    user_message,
)

SCREENING_FORM = "screening_form"
HANDOFF_FORM = "handoff_form"
SMS_CHANNEL = "twilio"
MEMBER_PHONE = "+16505550123"
OTHER_PHONE = "+16505551234"

# Answers that walk the question planner to the first question of each kind.
REACH_ANSWERS = {
    "plan": "medi-cal",
    "age": 45,
    "kaiser_assigned": False,
    "hospice_or_pace": False,
    "willing_community_supports": False,
    "unhoused": False,
    "housing_insecure": False,
    "chronic_condition": True,
    "cannot_self_manage": True,
}
HOMELESS_ADULT = {
    "plan": "medi-cal",
    "age": 40,
    "kaiser_assigned": False,
    "hospice_or_pace": False,
    "unhoused": True,
    "chronic_condition": True,
    "willing_community_supports": True,
    "engaged_with_care_manager": False,
}
NO_NEEDS_ADULT = {
    "plan": "medi-cal",
    "age": 45,
    "kaiser_assigned": False,
    "hospice_or_pace": False,
    "whole_person_care_2021": False,
    "unhoused": False,
    "housing_insecure": False,
    "chronic_condition": False,
    "avoidable_ed_visits_12mo": 0,
    "admissions_6mo": 0,
    "mental_health_diagnosis": False,
    "sud_diagnosis": False,
    "complex_social_risk": False,
    "high_risk": False,
    "crisis_services_main_care": False,
    "sud_ed_visits_12mo": 0,
    "long_term_care_risk": False,
    "released_from_incarceration_12mo": False,
    "pregnant_or_postpartum": False,
    "willing_community_supports": False,
}
HANDOFF_DETAILS = {
    "handoff_id": "handoff-1",
    "handoff_name": "Ana Perez",
    "handoff_phone": MEMBER_PHONE,
    "handoff_member_id": "id:AB1234567",
    "handoff_language": "es",
    "handoff_call_time": "Morning",
    "handoff_consent": "yes",
    "handoff_confirm": "yes",
}


# --- fixtures -------------------------------------------------------------------


def _clear_cached_singletons() -> None:
    get_settings.cache_clear()
    get_engine.cache_clear()
    get_session_factory.cache_clear()
    # The hand-off module caches its ticket repository, bound to the old factory.
    handoff_module._repository.cache_clear()


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, monkeypatch) -> Iterator[str]:
    """Point every setting at a temporary directory and SQLite file.

    `bot.settings.get_settings` and the engine and session factory of `bot.db`
    are read once per process, so their caches are cleared before and after.
    """
    url = f"sqlite:///{tmp_path / 'actions.db'}"
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("APP_SECRET", "action-tests-secret")
    monkeypatch.delenv("ELIGIBILITY_RULE_SET", raising=False)
    _clear_cached_singletons()
    yield url
    if get_engine.cache_info().currsize:
        get_engine().dispose()
    _clear_cached_singletons()


@pytest.fixture
def database(isolated_settings: str) -> sessionmaker:
    """Session factory on the migrated SQLite file that the actions use."""
    run_migrations(isolated_settings)
    return get_session_factory()


@pytest.fixture
def domain() -> dict[str, Any]:
    return load_domain()


@pytest.fixture(params=RULE_SETS)
def rule_set(request, monkeypatch) -> str:
    """Each eligibility rule set in turn, set the way production sets it."""
    monkeypatch.setenv("ELIGIBILITY_RULE_SET", request.param)
    get_settings.cache_clear()
    return request.param


# --- helpers --------------------------------------------------------------------


def profile_before(kind: str, rule_set_name: str | None = None) -> tuple[dict, str]:
    """Answer planner questions from `REACH_ANSWERS` until one of `kind` is next.

    Returns:
        The profile so far and the field the planner asks next.
    """
    profile: dict[str, Any] = {}
    while True:
        field = next_question(profile, None, rule_set_name)
        assert field is not None, f"no {kind} question reached from {profile}"
        if answer_kind(field) == kind:
            return profile, field
        assert field in REACH_ANSWERS, f"add an answer for {field!r}"
        profile[field] = REACH_ANSWERS[field]


def expected_requested(profile: dict, scope=None, rule_set_name=None) -> str | None:
    field = next_question(profile, scope, rule_set_name)
    return f"q_{field}" if field else None


async def answer_screening(
    domain: dict[str, Any],
    field: str,
    message: dict[str, Any],
    *,
    profile: dict[str, Any],
    scope: list[str] | None = None,
    misses: int = 0,
) -> ActionOutcome:
    """Run `validate_screening_form` on a reply to the question for `field`."""
    tracker = make_form_tracker(
        domain,
        SCREENING_FORM,
        f"q_{field}",
        message,
        slots={
            "screening_consent": "given",
            "screening_profile": dict(profile),
            "screening_scope": scope,
            "answer_misses": misses,
        },
    )
    return await run_action(ValidateScreeningForm(), domain, tracker)


async def answer_handoff(
    domain: dict[str, Any],
    slot: str,
    message: dict[str, Any],
    *,
    slots: dict[str, Any] | None = None,
    channel: str = "rest",
) -> ActionOutcome:
    """Run `validate_handoff_form` on a reply to the question for `slot`."""
    before = {"handoff_id": "handoff-1", "answer_misses": 0, **(slots or {})}
    tracker = make_form_tracker(
        domain, HANDOFF_FORM, slot, message, slots=before, channel=channel
    )
    return await run_action(ValidateHandoffForm(), domain, tracker)


async def answer_handoff_unmapped(
    domain: dict[str, Any],
    slot: str,
    message: dict[str, Any],
    *,
    slots: dict[str, Any] | None = None,
) -> ActionOutcome:
    """Run `validate_handoff_form` on a reply that the slot mapping skipped.

    A `from_text` mapping with `not_intent` gives no candidate for a reply with
    one of those intents, so the tracker ends with the form's `ActionExecuted`.
    """
    before = {"handoff_id": "handoff-1", "answer_misses": 0, **(slots or {})}
    tracker = make_form_tracker(domain, HANDOFF_FORM, slot, message, slots=before)
    candidate = tracker.events.pop()
    assert candidate == {"event": "slot", "name": slot, "value": message["text"]}
    tracker.slots[slot] = None
    return await run_action(ValidateHandoffForm(), domain, tracker)


def response_texts(domain: dict[str, Any], name: str) -> list[str]:
    """Every variation's text and button titles of the response `name`."""
    texts = []
    for variation in domain["responses"][name]:
        texts.append(variation.get("text") or "")
        texts += [button.get("title", "") for button in variation.get("buttons", [])]
    return texts


def count_rows(session_factory: sessionmaker, model) -> int:
    with session_factory() as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def ticket_rows(session_factory: sessionmaker) -> list[TicketRow]:
    with session_factory() as session:
        statement = select(TicketRow).order_by(TicketRow.id)
        return list(session.execute(statement).scalars())


def outbox_rows(session_factory: sessionmaker) -> list[OutboxMessage]:
    with session_factory() as session:
        statement = select(OutboxMessage).order_by(OutboxMessage.id)
        return list(session.execute(statement).scalars())


async def create_ticket(
    domain: dict[str, Any], slots: dict[str, Any], channel: str = "rest"
) -> ActionOutcome:
    tracker = make_tracker(
        domain, user_message("/affirm", "affirm"), slots=slots, channel=channel
    )
    return await run_action(ActionCreateTicket(), domain, tracker)


@pytest.mark.parametrize(
    ("input_channel", "stored"),
    [("rest", "rest"), ("socketio", "webchat"), ("cmdline", "rest")],
)
async def test_ticket_channel_names_web_chat(domain, database, input_channel, stored):
    slots = dict(HANDOFF_DETAILS)

    await create_ticket(domain, slots, channel=input_channel)

    assert [ticket.channel for ticket in ticket_rows(database)] == [stored]


# --- screening: consent ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "intent", "consent", "responses"),
    [
        ("yes", "affirm", "given", []),
        ("/affirm", "affirm", "given", []),
        ("yeah sure", "affirm", "given", []),
        ("no thanks", "deny", "declined", ["utter_consent_declined"]),
        ("/deny", "deny", "declined", ["utter_consent_declined"]),
        ("hmm", "inform", None, ["utter_why_screening_consent"]),
        ("why do you ask?", "why_ask", None, ["utter_why_screening_consent"]),
    ],
)
async def test_consent_reply(domain, text, intent, consent, responses):
    tracker = make_form_tracker(
        domain,
        SCREENING_FORM,
        "screening_consent",
        user_message(text, intent),
        slots={"screening_profile": {}},
    )

    outcome = await run_action(ValidateScreeningForm(), domain, tracker)

    assert outcome.slots["screening_consent"] == consent
    assert outcome.responses == responses
    if consent == "given":
        assert outcome.slots["requested_slot"] == expected_requested({})
    elif consent == "declined":
        # The form ends: nothing is requested any more.
        assert outcome.slots["requested_slot"] is None
    else:
        assert outcome.slots["requested_slot"] == "screening_consent"


async def test_declined_consent_result_says_nothing(domain):
    tracker = make_tracker(
        domain,
        user_message("no", "deny"),
        slots={"screening_consent": "declined", "screening_profile": {}},
    )

    outcome = await run_action(ActionScreeningResult(), domain, tracker)

    assert outcome.messages == []
    assert outcome.slots == {"screening_consent": None}


# --- screening: replies to questions ----------------------------------------------


@pytest.mark.parametrize(
    ("kind", "text", "intent", "value"),
    [
        ("plan", "I have Medi-Cal", "inform", "medi-cal"),
        ("age", "45", "inform", 45),
        ("yes_no", "yeah", "affirm", True),
        ("yes_no", "nope", "deny", False),
        ("yes_no", "/affirm", "affirm", True),
        ("count", "like 7 times", "inform", 7),
        ("count", "three", "inform", 3),
        ("count", "45", "inform", 45),
    ],
)
async def test_free_text_answer_updates_profile(
    domain, rule_set, kind, text, intent, value
):
    profile, field = profile_before(kind, rule_set)

    outcome = await answer_screening(
        domain, field, user_message(text, intent), profile=profile
    )

    updated = {**profile, field: value}
    assert outcome.slots[f"q_{field}"] == "value"
    assert outcome.slots["screening_profile"] == updated
    assert outcome.slots["answer_misses"] == 0
    assert outcome.slots["requested_slot"] == expected_requested(
        updated, None, rule_set
    )
    assert outcome.messages == []


@pytest.mark.parametrize(
    ("kind", "text", "intent"),
    [
        ("plan", "not sure", "unsure"),
        ("age", "not sure", "unsure"),
        ("yes_no", "idk", "unsure"),
        ("count", "no idea", "inform"),
        ("yes_no", "/skip_question", "skip_question"),
        ("count", "/skip_question", "skip_question"),
        ("age", "/skip_question", "skip_question"),
    ],
)
async def test_unsure_or_skip_stores_unknown(domain, rule_set, kind, text, intent):
    profile, field = profile_before(kind, rule_set)

    outcome = await answer_screening(
        domain, field, user_message(text, intent), profile=profile, misses=1
    )

    updated = outcome.slots["screening_profile"]
    assert field in updated
    assert updated[field] is None
    assert outcome.slots[f"q_{field}"] == "unsure"
    assert outcome.slots["answer_misses"] == 0
    # An unknown answer is final, so the same question never comes back.
    assert outcome.slots["requested_slot"] != f"q_{field}"
    assert outcome.slots["requested_slot"] == expected_requested(
        updated, None, rule_set
    )
    assert outcome.messages == []


@pytest.mark.parametrize(
    ("kind", "rephrase"),
    [
        ("plan", "utter_rephrase_plan"),
        ("age", "utter_rephrase_age"),
        ("yes_no", "utter_rephrase_yes_no"),
        ("count", "utter_rephrase_number"),
    ],
)
async def test_unreadable_answer_then_offer_skip(domain, kind, rephrase):
    profile, field = profile_before(kind)
    message = user_message("banana", "inform")

    first = await answer_screening(domain, field, message, profile=profile)
    second = await answer_screening(domain, field, message, profile=profile, misses=1)

    assert first.responses == [rephrase]
    assert first.slots["answer_misses"] == 1
    assert first.slots[f"q_{field}"] is None
    assert first.slots["requested_slot"] == f"q_{field}"
    assert "screening_profile" not in first.slots
    assert rephrase in domain["responses"]

    assert second.responses == ["utter_offer_skip"]
    assert second.slots["answer_misses"] == 2
    assert second.slots["requested_slot"] == f"q_{field}"


async def test_offer_skip_button_skips(domain):
    profile, field = profile_before("count")
    payloads = [
        button["payload"]
        for variation in domain["responses"]["utter_offer_skip"]
        for button in variation.get("buttons", [])
    ]
    assert "/skip_question" in payloads

    outcome = await answer_screening(
        domain,
        field,
        user_message("/skip_question", "skip_question"),
        profile=profile,
        misses=2,
    )

    assert outcome.slots["screening_profile"] == {**profile, field: None}
    assert outcome.slots["requested_slot"] != f"q_{field}"


@pytest.mark.parametrize(
    ("text", "kind"),
    [("200", "age"), ("I am 200 years old", "age"), ("-3", "age")],
)
async def test_out_of_range_answer_is_rejected(domain, text, kind):
    profile, field = profile_before(kind)

    outcome = await answer_screening(
        domain, field, user_message(text, "inform"), profile=profile
    )

    assert "screening_profile" not in outcome.slots
    assert outcome.slots[f"q_{field}"] is None
    assert outcome.slots["requested_slot"] == f"q_{field}"
    assert outcome.responses == ["utter_rephrase_age"]
    assert outcome.slots["answer_misses"] == 1


# --- screening: side questions ---------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "message", "expected"),
    [
        ("yes_no", user_message("does it cost anything?", faq="faq/cost"), None),
        ("age", user_message("does it cost anything?", faq="faq/cost"), None),
        ("count", user_message("is ECM voluntary?", faq="faq/voluntary"), None),
        ("plan", user_message("what is CalAIM?", faq="faq/what_is_calaim"), None),
        ("yes_no", user_message("why do you ask?", "why_ask"), "why"),
        ("count", user_message("why do you need that", "why_ask"), "why"),
        ("age", user_message("hello", "greet"), "utter_greet"),
        (
            "yes_no",
            user_message("is there respite care?", "service_not_offered"),
            "utter_service_not_offered",
        ),
    ],
    ids=[
        "faq_yes_no",
        "faq_age",
        "faq_count",
        "faq_plan",
        "why_yes_no",
        "why_count",
        "greet_age",
        "not_offered_yes_no",
    ],
)
async def test_side_question_keeps_question(domain, kind, message, expected):
    profile, field = profile_before(kind)
    faq = message.get("response_selector", {}).get("faq")
    if faq:
        expected = "utter_" + faq["response"]["intent_response_key"]
    elif expected == "why":
        expected = f"utter_why_q_{field}"

    outcome = await answer_screening(
        domain, field, message, profile=profile, misses=1
    )

    assert outcome.responses == [expected]
    assert expected in domain["responses"]
    assert outcome.slots[f"q_{field}"] is None
    assert outcome.slots["requested_slot"] == f"q_{field}"
    assert "screening_profile" not in outcome.slots
    # A side question is not a failed answer.
    assert "answer_misses" not in outcome.slots


# A FAQ or "why" message can hold a number or a yes ("what are the 7 community
# supports?"); it must be answered as a question, not stored as the answer.
@pytest.mark.parametrize(
    ("slot", "message", "expected"),
    [
        (
            "avoidable_ed_visits_12mo",
            user_message(
                "what are the 7 community supports?",
                faq="faq/what_are_community_supports",
            ),
            "utter_faq/what_are_community_supports",
        ),
        (
            "unhoused",
            user_message("y do u need that", "why_ask"),
            "utter_why_q_unhoused",
        ),
        (
            "screening_consent",
            user_message("y do u need that", "why_ask"),
            "utter_why_screening_consent",
        ),
        (
            "unhoused",
            user_message("is there a sobering center? yes or no", "service_not_offered"),
            "utter_service_not_offered",
        ),
    ],
    ids=["faq_with_number", "why_read_as_yes", "why_at_consent", "not_offered_with_yes"],
)
async def test_side_question_wins_over_parsed_value(domain, slot, message, expected):
    profile = {
        "plan": "medi-cal",
        "age": 45,
        "kaiser_assigned": False,
        "hospice_or_pace": False,
        "willing_community_supports": False,
    }
    if slot == "avoidable_ed_visits_12mo":
        profile.update(unhoused=False, housing_insecure=False)
    assert slot == "screening_consent" or next_question(profile) == slot

    requested = slot if slot == "screening_consent" else f"q_{slot}"
    consent = None if slot == "screening_consent" else "given"
    tracker = make_form_tracker(
        domain,
        SCREENING_FORM,
        requested,
        message,
        slots={"screening_consent": consent, "screening_profile": profile},
    )
    outcome = await run_action(ValidateScreeningForm(), domain, tracker)

    assert outcome.slots[requested] is None
    assert outcome.slots.get("screening_profile", profile) == profile
    assert outcome.responses == [expected]
    assert outcome.slots["requested_slot"] == requested


# --- screening: start, scope, start over ------------------------------------------


@pytest.mark.parametrize(
    ("text", "intent", "scope"),
    [
        ("check for housing help", "check_eligibility", sorted(HOUSING_SERVICES)),
        ("do I qualify", "check_eligibility", None),
        ("/check_eligibility", "check_eligibility", None),
    ],
)
async def test_start_screening_sets_scope(domain, text, intent, scope):
    tracker = make_tracker(domain, user_message(text, intent))

    outcome = await run_action(ActionStartScreening(), domain, tracker)

    assert outcome.slots["screening_scope"] == scope
    assert outcome.slots["screening_profile"] == {}
    assert outcome.slots["screening_done"] is False
    assert outcome.slots["answer_misses"] == 0
    question_slots = [
        slot
        for slot in domain["forms"][SCREENING_FORM]["required_slots"]
        if slot.startswith("q_")
    ]
    for slot in question_slots:
        assert outcome.slots[slot] is None, slot


@pytest.mark.parametrize(
    ("intent", "done", "kept"),
    [
        ("start_over", False, False),
        ("check_eligibility", True, False),
        ("check_eligibility", False, True),
    ],
)
async def test_start_screening_resets_or_resumes(domain, intent, done, kept):
    profile = {"plan": "medi-cal", "age": 45}
    text = "start over" if intent == "start_over" else "do I qualify"
    tracker = make_tracker(
        domain,
        user_message(text, intent),
        slots={"screening_profile": profile, "screening_done": done},
    )

    outcome = await run_action(ActionStartScreening(), domain, tracker)

    assert outcome.slots["screening_profile"] == (profile if kept else {})
    assert outcome.slots["screening_done"] is False


async def test_housing_scope_limits_questions(domain, rule_set):
    message = user_message("check for housing help", "check_eligibility")
    start = await run_action(
        ActionStartScreening(), domain, make_tracker(domain, message)
    )
    slots = initial_slots(domain)
    apply_events(slots, start.events)
    scope = slots["screening_scope"]

    consent = await run_action(
        ValidateScreeningForm(),
        domain,
        make_form_tracker(
            domain,
            SCREENING_FORM,
            "screening_consent",
            user_message("yes", "affirm"),
            slots=slots,
        ),
    )
    apply_events(slots, consent.events)

    # Reply "not sure" to every question until the form ends. An unknown answer
    # is final, so the form needs at most one turn per field.
    requested_fields = []
    for _ in range(len(domain["forms"][SCREENING_FORM]["required_slots"]) + 1):
        requested = slots["requested_slot"]
        if requested is None:
            break
        requested_fields.append(requested[len("q_") :])
        outcome = await run_action(
            ValidateScreeningForm(),
            domain,
            make_form_tracker(
                domain,
                SCREENING_FORM,
                requested,
                user_message("not sure", "unsure"),
                slots=slots,
            ),
        )
        apply_events(slots, outcome.events)
    else:
        pytest.fail(f"the screening did not end after {requested_fields}")

    housing_questions = set(open_questions({}, scope, rule_set))
    all_questions = set(open_questions({}, None, rule_set))
    assert requested_fields
    assert requested_fields[0] == next_question({}, scope, rule_set)
    assert len(requested_fields) == len(set(requested_fields))
    assert set(requested_fields) <= housing_questions
    for field in ("nutrition_condition", "wants_assisted_living", "wants_to_move_home"):
        assert field in all_questions
        assert field not in requested_fields


# --- screening result ------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "status_response"),
    [
        (HOMELESS_ADULT, "utter_result_ecm_likely"),
        (NO_NEEDS_ADULT, "utter_result_ecm_unlikely"),
        (
            {**NO_NEEDS_ADULT, "long_term_care_risk": True},
            "utter_result_ecm_needs_review",
        ),
        ({"plan": "medi-cal", "kaiser_assigned": True}, "utter_result_ecm_kaiser"),
        ({**HOMELESS_ADULT, "plan": "careadvantage"}, "utter_result_ecm_unlikely"),
    ],
    ids=["likely", "unlikely", "needs_review", "kaiser", "careadvantage"],
)
async def test_result_for_each_outcome(domain, profile, status_response):
    tracker = make_tracker(
        domain,
        user_message("no", "deny"),
        slots={"screening_consent": "given", "screening_profile": profile},
    )

    outcome = await run_action(ActionScreeningResult(), domain, tracker)

    result = screen(profile)
    responses = outcome.responses
    assert responses == result_responses(result, None)
    assert responses[0] == "utter_result_intro"
    assert responses[1] == status_response
    assert responses[-2:] == ["utter_result_disclaimer", "utter_offer_handoff"]
    assert [name for name in responses if name.startswith("utter_result_ecm_")] == [
        status_response
    ]
    # The Kaiser response gives its own reason; every other result lists one.
    if status_response != "utter_result_ecm_kaiser":
        assert any(name.startswith("utter_reason_") for name in responses)
    for name in responses:
        assert name in domain["responses"], name
    assert outcome.slots["screening_result"] == result
    assert outcome.slots["screening_done"] is True


@pytest.mark.parametrize(
    "profile",
    [HOMELESS_ADULT, NO_NEEDS_ADULT, {"plan": "medi-cal", "kaiser_assigned": True}],
    ids=["likely", "unlikely", "kaiser"],
)
async def test_result_never_shows_engine_text(domain, profile):
    tracker = make_tracker(
        domain,
        user_message("no", "deny"),
        slots={"screening_consent": "given", "screening_profile": profile},
    )

    outcome = await run_action(ActionScreeningResult(), domain, tracker)

    engine_texts = {
        reason["text"]
        for part in [outcome.slots["screening_result"]["ecm"]]
        + list(outcome.slots["screening_result"]["community_supports"].values())
        for reason in part["reasons"]
    }
    for message in outcome.messages:
        assert message["text"] is None
        for value in message.values():
            assert not (isinstance(value, str) and value in engine_texts)
    for name in outcome.responses:
        assert "approv" not in name
        for text in response_texts(domain, name):
            assert "approved" not in text.casefold(), name


async def test_careadvantage_gets_community_supports(domain):
    profile = {**HOMELESS_ADULT, "plan": "careadvantage"}
    tracker = make_tracker(
        domain,
        user_message("no", "deny"),
        slots={"screening_consent": "given", "screening_profile": profile},
    )

    outcome = await run_action(ActionScreeningResult(), domain, tracker)

    assert "utter_reason_careadvantage_plan_met" in outcome.responses
    shown = [name for name in outcome.responses if name.startswith("utter_result_cs_")]
    assert shown
    for name in shown:
        assert not name.endswith("_unlikely"), name


async def test_not_member_gets_only_referral(domain):
    tracker = make_tracker(
        domain,
        user_message("I don't have insurance", "inform"),
        slots={"screening_consent": "given", "screening_profile": {"plan": "none"}},
    )

    outcome = await run_action(ActionScreeningResult(), domain, tracker)

    assert outcome.responses == ["utter_result_not_member"]


async def test_housing_result_covers_housing_services(domain):
    tracker = make_tracker(
        domain,
        user_message("no", "deny"),
        slots={
            "screening_consent": "given",
            "screening_profile": HOMELESS_ADULT,
            "screening_scope": sorted(HOUSING_SERVICES),
        },
    )

    outcome = await run_action(ActionScreeningResult(), domain, tracker)

    assert not any(name.startswith("utter_result_ecm_") for name in outcome.responses)
    for service in HOUSING_SERVICES:
        shown = [
            name
            for name in outcome.responses
            if name.startswith(f"utter_result_cs_{service}_")
        ]
        assert len(shown) == 1, service
    assert not any("medically_tailored_meals" in name for name in outcome.responses)


# --- hand-off form ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "intent", "name"),
    [
        ("Ana Perez", "inform", "Ana Perez"),
        ("  María   de la Cruz ", "inform", "María de la Cruz"),
        ("my name is Ana", "inform", "Ana"),
        ("Al", "inform", "Al"),
        ("J", "inform", None),
        ("   ", "inform", None),
        ("6505550123", "inform", None),
        ("Ana 650 555 0123", "inform", None),
        ("123 456", "inform", None),
        ("x" * 81, "inform", None),
        ("/affirm", "affirm", None),
        ("what is ECM", "inform", None),
    ],
)
async def test_handoff_name(domain, text, intent, name):
    outcome = await answer_handoff(domain, "handoff_name", user_message(text, intent))

    assert outcome.slots["handoff_name"] == name
    if name is None:
        assert outcome.responses == ["utter_rephrase_name"]
        assert outcome.slots["answer_misses"] == 1
    else:
        assert outcome.messages == []
        assert outcome.slots["answer_misses"] == 0


async def test_handoff_name_read_despite_faq_intent(domain):
    message = user_message("Ottoline Brackett", faq="faq/what_is_ecm")

    outcome = await answer_handoff(domain, "handoff_name", message)

    assert outcome.slots["handoff_name"] == "Ottoline Brackett"
    assert outcome.messages == []


async def test_handoff_name_faq_question_answered(domain):
    message = user_message("what is ECM?", faq="faq/what_is_ecm")

    outcome = await answer_handoff(domain, "handoff_name", message)

    assert outcome.slots["handoff_name"] is None
    assert outcome.responses == ["utter_faq/what_is_ecm"]
    assert "answer_misses" not in outcome.slots


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("yes", "affirm"),
        ("no thanks", "deny"),
        ("skip", "skip_question"),
        ("/skip_question", "skip_question"),
        ("none", "inform"),
        ("I don't know", "unsure"),
        ("ok", "affirm"),
        ("sure", "affirm"),
        ("sí", "affirm"),
        ("no sé", "unsure"),
        ("vale", "affirm"),
        ("claro", "affirm"),
        ("omitir", "nlu_fallback"),
        ("no gracias", "deny"),
    ],
)
async def test_handoff_name_reply_word_rejected(domain, text, intent):
    outcome = await answer_handoff(domain, "handoff_name", user_message(text, intent))

    assert outcome.slots["handoff_name"] is None
    assert outcome.responses == ["utter_rephrase_name"]
    assert outcome.slots["answer_misses"] == 1
    assert "handoff_confirm" not in outcome.slots


async def test_handoff_name_second_reply_word(domain):
    outcome = await answer_handoff(
        domain,
        "handoff_name",
        user_message("no thanks", "deny"),
        slots={"answer_misses": 1},
    )

    assert outcome.slots["handoff_name"] is None
    assert outcome.responses == ["utter_handoff_trouble"]
    assert outcome.slots["answer_misses"] == 2


@pytest.mark.parametrize(
    ("text", "intent", "name"),
    [
        ("Call me Bob", "inform", "Bob"),
        ("Test Person", "inform", "Test Person"),
        ("my name is María José", "out_of_scope", "María José"),
        ("I'm Nguyen Van A", "greet", "Nguyen Van A"),
        ("Will Smith", "inform", "Will Smith"),
    ],
)
async def test_handoff_name_accepted(domain, text, intent, name):
    outcome = await answer_handoff(
        domain,
        "handoff_name",
        user_message(text, intent),
        slots={"answer_misses": 1},
    )

    assert outcome.slots["handoff_name"] == name
    assert outcome.slots["answer_misses"] == 0
    assert outcome.messages == []


# The classifier puts some names in `request_handoff`, which the name slot's
# mapping skips, so the validation action has to read them itself.
def test_skipped_intents_match_name_mapping(domain):
    mappings = domain["slots"]["handoff_name"]["mappings"]
    skipped = {intent for mapping in mappings for intent in mapping["not_intent"]}

    assert NAME_INTENTS_SKIPPED_BY_MAPPING <= skipped


@pytest.mark.parametrize(
    ("text", "name"),
    [("Test Person", "Test Person"), ("Call me Bob", "Bob")],
)
async def test_handoff_name_read_despite_request_intent(domain, text, name):
    outcome = await answer_handoff_unmapped(
        domain, "handoff_name", user_message(text, "request_handoff")
    )

    assert outcome.slots["handoff_name"] == name
    assert outcome.slots["answer_misses"] == 0
    assert outcome.messages == []


# Rasa falls back to its default reply when the validation returns no event.
@pytest.mark.parametrize(
    "text", ["I want someone to call me", "/request_handoff"]
)
async def test_handoff_request_at_name_asks_again(domain, text):
    outcome = await answer_handoff_unmapped(
        domain, "handoff_name", user_message(text, "request_handoff")
    )

    assert outcome.slots["handoff_name"] is None
    assert outcome.responses == ["utter_rephrase_name"]
    assert outcome.slots["answer_misses"] == 1


@pytest.mark.parametrize(
    ("slot", "intent"),
    [
        ("handoff_phone", "request_handoff"),
        ("handoff_name", "change_language"),
        ("handoff_name", "goodbye"),
    ],
)
async def test_name_not_read_from_other_replies(domain, slot, intent):
    outcome = await answer_handoff_unmapped(
        domain, slot, user_message("Test Person", intent)
    )

    assert "handoff_name" not in outcome.slots
    assert outcome.messages == []


@pytest.mark.parametrize("text", ["cancelar", "cancel", "Cancel it."])
async def test_cancel_at_name_ends_handoff(domain, database, text):
    slots = {"handoff_id": "handoff-1", "answer_misses": 0}

    outcome = await answer_handoff(
        domain, "handoff_name", user_message(text, "nlu_fallback"), slots=slots
    )

    assert outcome.slots["handoff_confirm"] == "cancel"
    assert outcome.slots["requested_slot"] is None
    assert outcome.slots.get("handoff_name") is None
    assert outcome.messages == []
    apply_events(slots, outcome.events)
    ticket = await create_ticket(domain, slots)
    assert ticket.responses == ["utter_handoff_cancelled"]
    assert count_rows(database, TicketRow) == 0


# After a miss the form asks `utter_ask_handoff_name` again, so the rephrase
# must not be a second question.
async def test_refused_name_asks_one_question(domain):
    outcome = await answer_handoff(
        domain, "handoff_name", user_message("yes", "affirm")
    )
    assert outcome.slots["handoff_name"] is None
    sent_responses = outcome.responses + ["utter_ask_handoff_name"]

    questions = [
        name
        for name in sent_responses
        if any("?" in text for text in response_texts(domain, name))
    ]
    assert questions == ["utter_ask_handoff_name"]


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("(650) 555-1234", OTHER_PHONE),
        ("my cell is 650.555.1234", OTHER_PHONE),
        ("+1 650 555 0123", MEMBER_PHONE),
        ("123", None),
        ("yes", None),
    ],
)
async def test_handoff_phone_typed(domain, text, phone):
    outcome = await answer_handoff(
        domain, "handoff_phone", user_message(text, "inform")
    )

    assert outcome.slots["handoff_phone"] == phone
    if phone is None:
        assert outcome.responses == ["utter_rephrase_phone"]
    else:
        assert outcome.messages == []


async def test_handoff_phone_second_miss(domain):
    outcome = await answer_handoff(
        domain,
        "handoff_phone",
        user_message("dunno", "inform"),
        slots={"answer_misses": 1},
    )

    assert outcome.responses == ["utter_handoff_trouble"]
    assert outcome.slots["answer_misses"] == 2


# The phone and the name cannot be skipped, so two misses offer the phone
# number instead of a skip button that could never work.
@pytest.mark.parametrize("slot", ["handoff_name", "handoff_phone"])
async def test_required_detail_offers_no_skip(domain, slot):
    outcome = await answer_handoff(
        domain,
        slot,
        user_message("/skip_question", "skip_question"),
        slots={"answer_misses": 2},
    )

    payloads = [
        button["payload"]
        for name in outcome.responses
        for variation in domain["responses"][name]
        for button in variation.get("buttons", [])
    ]
    assert "/skip_question" not in payloads


@pytest.mark.parametrize(
    ("text", "intent", "stored", "phone", "use_other"),
    [
        ("yes", "affirm", True, "sender", None),
        ("/affirm", "affirm", True, "sender", None),
        ("yes", "affirm", False, None, None),
        ("no", "deny", True, None, True),
        ("/deny", "deny", True, None, True),
        ("650-555-1234", "inform", True, OTHER_PHONE, None),
    ],
)
async def test_handoff_phone_over_sms(
    domain, database, text, intent, stored, phone, use_other
):
    if stored:
        await conversations.remember_sms_sender(CONVERSATION_ID, MEMBER_PHONE)

    outcome = await answer_handoff(
        domain, "handoff_phone", user_message(text, intent), channel=SMS_CHANNEL
    )

    assert outcome.slots["handoff_phone"] == phone
    assert outcome.slots.get("handoff_use_other_phone") == use_other
    if phone is None and not use_other:
        assert outcome.responses == ["utter_rephrase_phone"]
    else:
        assert outcome.messages == []
    assert MEMBER_PHONE not in repr(outcome.events)


async def test_sms_yes_after_other_number_is_a_miss(domain, database):
    await conversations.remember_sms_sender(CONVERSATION_ID, MEMBER_PHONE)

    outcome = await answer_handoff(
        domain,
        "handoff_phone",
        user_message("yes", "affirm"),
        slots={"handoff_use_other_phone": True},
        channel=SMS_CHANNEL,
    )

    assert outcome.slots["handoff_phone"] is None
    assert outcome.responses == ["utter_rephrase_phone"]


@pytest.mark.parametrize(
    ("text", "intent", "stored"),
    [
        ("AB1234567", "inform", "id:AB1234567"),
        ("ab12 3456 7", "inform", "id:AB1234567"),
        ("03/14/1975", "inform", "dob:1975-03-14"),
        ("14 de marzo de 1975", "inform", "dob:1975-03-14"),
        ("/skip_question", "skip_question", "skipped"),
        ("no", "deny", "skipped"),
        ("banana", "inform", None),
    ],
)
async def test_handoff_member_id(domain, text, intent, stored):
    outcome = await answer_handoff(
        domain, "handoff_member_id", user_message(text, intent)
    )

    assert outcome.slots["handoff_member_id"] == stored
    if stored is None:
        assert outcome.responses == ["utter_rephrase_member_id"]
    else:
        assert outcome.messages == []


# "March 14 1975" without its spaces fits the member ID pattern, so the form
# must read a date of birth first.
@pytest.mark.parametrize("text", ["March 14 1975", "Mar 14 1975"])
async def test_worded_birth_date_is_not_member_id(domain, text):
    outcome = await answer_handoff(
        domain, "handoff_member_id", user_message(text, "inform")
    )

    assert outcome.slots["handoff_member_id"] == "dob:1975-03-14"


async def test_member_id_why_ask(domain):
    outcome = await answer_handoff(
        domain, "handoff_member_id", user_message("why do you need that?", "why_ask")
    )

    assert outcome.responses == ["utter_why_handoff_member_id"]
    assert outcome.slots["handoff_member_id"] is None
    assert "answer_misses" not in outcome.slots


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Call me in English", "en"),
        ("Llámenme en español", "es"),
        ("Tagalog please", "tl"),
        ("Other", "other"),
        ("banana", None),
    ],
)
async def test_handoff_language(domain, text, language):
    outcome = await answer_handoff(
        domain, "handoff_language", user_message(text, "inform")
    )

    assert outcome.slots["handoff_language"] == language
    if language is None:
        assert outcome.responses == ["utter_answer_not_understood"]
    else:
        assert outcome.messages == []


@pytest.mark.parametrize(
    ("text", "intent", "call_time"),
    [
        ("Morning", "inform", "Morning"),
        ("  after   5 pm  ", "inform", "after 5 pm"),
        ("a" * 100, "inform", "a" * 80),
        ("/affirm", "affirm", None),
        ("why do you ask?", "why_ask", None),
    ],
)
async def test_handoff_call_time(domain, text, intent, call_time):
    outcome = await answer_handoff(
        domain, "handoff_call_time", user_message(text, intent)
    )

    assert outcome.slots["handoff_call_time"] == call_time
    if call_time is None:
        assert len(outcome.responses) == 1
        assert outcome.responses[0] in domain["responses"]
    else:
        assert outcome.messages == []


@pytest.mark.parametrize(
    ("text", "intent", "consent"),
    [
        ("/affirm", "affirm", "yes"),
        ("yes please", "inform", "yes"),
        ("/deny", "deny", "no"),
        ("no", "inform", "no"),
        ("maybe later", "inform", None),
    ],
)
async def test_handoff_consent(domain, text, intent, consent):
    outcome = await answer_handoff(
        domain, "handoff_consent", user_message(text, intent)
    )

    assert outcome.slots["handoff_consent"] == consent
    if consent is None:
        assert outcome.responses == ["utter_answer_not_understood"]
    else:
        assert outcome.messages == []


async def test_consent_no_skips_confirmation(domain):
    details = {**HANDOFF_DETAILS, "handoff_consent": None, "handoff_confirm": None}

    outcome = await answer_handoff(
        domain, "handoff_consent", user_message("/deny", "deny"), slots=details
    )

    assert outcome.slots["handoff_consent"] == "no"
    # Without consent there is nothing to confirm, so the form ends.
    assert outcome.slots["requested_slot"] is None


@pytest.mark.parametrize(
    ("text", "intent", "entities", "changes"),
    [
        ("yes", "affirm", [], {"handoff_confirm": "yes"}),
        ("/affirm", "affirm", [], {"handoff_confirm": "yes"}),
        (
            "fix my phone",
            "fix_detail",
            [],
            {"handoff_phone": None, "handoff_confirm": None},
        ),
        (
            "my phone is wrong",
            "inform",
            [],
            {"handoff_phone": None, "handoff_confirm": None},
        ),
        (
            '/fix_detail{"detail":"name"}',
            "fix_detail",
            [{"entity": "detail", "value": "name"}],
            {"handoff_name": None, "handoff_confirm": None},
        ),
        (
            '/fix_detail{"detail":"call_time"}',
            "fix_detail",
            [{"entity": "detail", "value": "call_time"}],
            {"handoff_call_time": None, "handoff_confirm": None},
        ),
        ("/deny", "deny", [], {"handoff_confirm": "cancel"}),
        ("cancel", "deny", [], {"handoff_confirm": "cancel"}),
    ],
)
async def test_handoff_confirm(domain, text, intent, entities, changes):
    details = {**HANDOFF_DETAILS, "handoff_confirm": None}

    outcome = await answer_handoff(
        domain,
        "handoff_confirm",
        user_message(text, intent, entities=entities),
        slots=details,
    )

    for slot, value in changes.items():
        assert outcome.slots[slot] == value, slot
    untouched = set(HANDOFF_SLOTS) - set(changes)
    for slot in untouched:
        assert slot not in outcome.slots, slot
    assert outcome.messages == []


async def test_handoff_confirm_unclear_asks_again(domain):
    details = {**HANDOFF_DETAILS, "handoff_confirm": None}

    outcome = await answer_handoff(
        domain, "handoff_confirm", user_message("hmm", "inform"), slots=details
    )

    assert outcome.slots["handoff_confirm"] is None
    assert outcome.responses == ["utter_answer_not_understood"]
    assert outcome.slots["answer_misses"] == 1


# A typed "no" to "Is this right?" asks which detail to fix; only the Cancel
# button or the word "cancel" drops the hand-off.
async def test_typed_no_at_confirm_keeps_handoff(domain):
    details = {**HANDOFF_DETAILS, "handoff_confirm": None}

    outcome = await answer_handoff(
        domain, "handoff_confirm", user_message("no", "deny"), slots=details
    )

    assert outcome.slots["handoff_confirm"] != "cancel"


async def test_typed_cancel_it_at_confirm_cancels(domain):
    details = {**HANDOFF_DETAILS, "handoff_confirm": None}

    outcome = await answer_handoff(
        domain, "handoff_confirm", user_message("cancel it", "inform"), slots=details
    )

    assert outcome.slots["handoff_confirm"] == "cancel"
    assert outcome.messages == []


# --- hand-off: masking of the phone number -----------------------------------------


@pytest.mark.parametrize(
    ("channel", "stored", "slots", "response"),
    [
        (SMS_CHANNEL, True, {}, "utter_ask_handoff_phone_sender"),
        (SMS_CHANNEL, False, {}, "utter_ask_handoff_phone"),
        (
            SMS_CHANNEL,
            True,
            {"handoff_use_other_phone": True},
            "utter_ask_handoff_phone",
        ),
        ("rest", True, {}, "utter_ask_handoff_phone"),
    ],
)
async def test_ask_phone(domain, database, channel, stored, slots, response):
    if stored:
        await conversations.remember_sms_sender(CONVERSATION_ID, MEMBER_PHONE)
    tracker = make_tracker(
        domain, user_message("Ana Perez", "inform"), slots=slots, channel=channel
    )

    outcome = await run_action(ActionAskHandoffPhone(), domain, tracker)

    assert outcome.responses == [response]
    assert outcome.events == []
    if response == "utter_ask_handoff_phone_sender":
        assert outcome.messages[0]["last_four"] == "0123"
    shown = repr(outcome.messages)
    assert MEMBER_PHONE not in shown
    assert MEMBER_PHONE[2:] not in shown


async def test_summary_shows_last_four_only(domain, database):
    await conversations.remember_sms_sender(CONVERSATION_ID, MEMBER_PHONE)
    slots = {**HANDOFF_DETAILS, "handoff_phone": "sender", "handoff_confirm": None}
    tracker = make_tracker(
        domain, user_message("/affirm", "affirm"), slots=slots, channel=SMS_CHANNEL
    )

    outcome = await run_action(ActionAskHandoffConfirm(), domain, tracker)

    assert outcome.responses == ["utter_handoff_summary", "utter_ask_handoff_confirm"]
    summary = outcome.messages[0]
    assert summary["phone_last_four"] == "0123"
    assert summary["name"] == "Ana Perez"
    assert summary["member_id_display"] == "ID ending in 567"
    assert summary["language_display"] == "Spanish"
    shown = repr(outcome.messages)
    assert MEMBER_PHONE[2:] not in shown
    assert "AB1234567" not in shown
    template = domain["responses"]["utter_handoff_summary"][0]["text"]
    assert set(re.findall(r"\{(\w+)\}", template)) <= set(summary)


async def test_start_handoff_begins_fresh(domain):
    message = user_message("talk to a person", "request_handoff")
    tracker = make_tracker(domain, message)

    first = await run_action(ActionStartHandoff(), domain, tracker)
    second = await run_action(ActionStartHandoff(), domain, tracker)

    for slot in HANDOFF_SLOTS:
        assert first.slots[slot] is None, slot
    assert first.slots["handoff_use_other_phone"] is False
    assert first.slots["handoff_id"]
    assert first.slots["handoff_id"] != second.slots["handoff_id"]


async def test_start_handoff_resumes_paused_one(domain):
    # A crisis reply pauses the hand-off form; "Finish my request" resumes it.
    message = user_message("/request_handoff", "request_handoff")
    slots = {**HANDOFF_DETAILS, "handoff_id": "paused-handoff"}
    tracker = make_tracker(domain, message, slots=slots)

    outcome = await run_action(ActionStartHandoff(), domain, tracker)

    assert "handoff_id" not in outcome.slots
    assert "handoff_name" not in outcome.slots
    assert outcome.slots["handoff_confirm"] is None


# --- hand-off: ticket ------------------------------------------------------------


async def test_create_ticket_stores_ticket_and_sms(domain, database):
    slots = {
        **HANDOFF_DETAILS,
        "screening_profile": HOMELESS_ADULT,
        "screening_result": screen(HOMELESS_ADULT),
    }

    outcome = await create_ticket(domain, slots)

    tickets = ticket_rows(database)
    outbox = outbox_rows(database)
    assert len(tickets) == 1
    assert len(outbox) == 1
    ticket = tickets[0]
    # Without Twilio credentials no text is sent, so none is promised.
    assert outcome.responses == ["utter_ticket_created"]
    assert outcome.messages[0]["reference"] == ticket.reference
    assert outcome.slots["ticket_reference"] == ticket.reference
    for slot in HANDOFF_SLOTS:
        assert outcome.slots[slot] is None, slot

    assert ticket.conversation_id == CONVERSATION_ID
    assert ticket.channel == "rest"
    assert ticket.phone == MEMBER_PHONE
    assert ticket.name == "Ana Perez"
    assert ticket.member_id == "AB1234567"
    assert ticket.preferred_language == "es"
    assert ticket.consent_contact is True
    assert ticket.services == services_of_interest(slots["screening_result"], None)
    assert outbox[0].ticket_id == ticket.id
    assert outbox[0].to_number == MEMBER_PHONE
    assert ticket.reference in outbox[0].body


async def test_create_ticket_over_sms_uses_sender(domain, database):
    await conversations.remember_sms_sender(CONVERSATION_ID, MEMBER_PHONE)
    slots = {**HANDOFF_DETAILS, "handoff_phone": "sender"}

    outcome = await create_ticket(domain, slots, channel=SMS_CHANNEL)

    tickets = ticket_rows(database)
    assert outcome.responses[0] == "utter_ticket_created"
    assert len(tickets) == 1
    assert tickets[0].phone == MEMBER_PHONE
    assert tickets[0].channel == "sms"
    assert MEMBER_PHONE not in repr(outcome.messages)
    assert MEMBER_PHONE not in repr(outcome.events)


async def test_create_ticket_twice_is_idempotent(domain, database):
    first = await create_ticket(domain, HANDOFF_DETAILS)
    second = await create_ticket(domain, HANDOFF_DETAILS)

    assert second.messages[0]["reference"] == first.messages[0]["reference"]
    assert count_rows(database, TicketRow) == 1
    assert count_rows(database, OutboxMessage) == 1


async def test_new_handoff_links_previous_ticket(domain, database):
    first = await create_ticket(domain, HANDOFF_DETAILS)
    second = await create_ticket(domain, {**HANDOFF_DETAILS, "handoff_id": "handoff-2"})

    tickets = ticket_rows(database)
    assert len(tickets) == 2
    assert count_rows(database, OutboxMessage) == 2
    assert first.messages[0]["reference"] == tickets[0].reference
    assert second.messages[0]["reference"] == tickets[1].reference
    assert tickets[0].reference != tickets[1].reference
    assert tickets[0].previous_ticket_id is None
    assert tickets[1].previous_ticket_id == tickets[0].id


@pytest.mark.parametrize(
    ("changes", "response"),
    [
        ({"handoff_confirm": "cancel"}, "utter_handoff_cancelled"),
        (
            {"handoff_consent": "no", "handoff_confirm": None},
            "utter_handoff_consent_needed",
        ),
        ({"handoff_consent": None}, "utter_handoff_consent_needed"),
    ],
)
async def test_create_ticket_without_go_ahead(domain, database, changes, response):
    outcome = await create_ticket(domain, {**HANDOFF_DETAILS, **changes})

    assert outcome.responses == [response]
    assert count_rows(database, TicketRow) == 0
    assert count_rows(database, OutboxMessage) == 0
    for slot in HANDOFF_SLOTS:
        assert outcome.slots[slot] is None, slot


@pytest.mark.parametrize(
    ("phone", "channel"),
    [("12345", "rest"), (None, "rest"), ("sender", SMS_CHANNEL)],
)
async def test_create_ticket_invalid_phone_fails_kindly(
    domain, database, phone, channel
):
    # "sender" with no number stored for the conversation gives no phone.
    outcome = await create_ticket(
        domain, {**HANDOFF_DETAILS, "handoff_phone": phone}, channel=channel
    )

    assert outcome.responses == ["utter_handoff_failed"]
    assert outcome.slots == {"handoff_phone": None, "handoff_confirm": None}
    assert count_rows(database, TicketRow) == 0
    assert count_rows(database, OutboxMessage) == 0


# --- session, language, crisis ----------------------------------------------------


def _response_slot_placeholders(domain: dict[str, Any]) -> set[str]:
    """Slots that some response text or button title uses as `{slot}`."""
    names = set()
    for response in domain["responses"]:
        for text in response_texts(domain, response):
            names.update(re.findall(r"\{(\w+)\}", text))
    return names & set(domain["slots"])


@pytest.mark.parametrize("language", ["en", "es"])
async def test_session_start_fills_contact_slots(domain, language):
    tracker = make_tracker(
        domain, user_message("hi", "greet"), slots={"language": language}
    )

    outcome = await run_action(ActionSessionStart(), domain, tracker)

    placeholders = _response_slot_placeholders(domain)
    assert "phone_member_services" in placeholders
    for slot in placeholders:
        value = outcome.slots.get(slot)
        assert isinstance(value, str) and value.strip(), slot
    assert outcome.slots["language"] == language
    assert outcome.slots == {"language": language, **contact_slots(language)}
    assert outcome.event_types()[0] == "session_started"
    assert outcome.events[-1]["event"] == "action"
    assert outcome.events[-1]["name"] == "action_listen"
    assert outcome.messages == []


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("español", "es"),
        ("in Spanish please", "es"),
        ("English please", "en"),
        ("en français svp", "en"),
        ("Tagalog", "en"),
    ],
)
async def test_set_language(domain, text, language):
    tracker = make_tracker(domain, user_message(text, "change_language"))

    outcome = await run_action(ActionSetLanguage(), domain, tracker)

    assert outcome.slots["language"] == language
    assert outcome.slots["hours_member_services"] == contact_slots(language)[
        "hours_member_services"
    ]
    assert outcome.messages == []


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("quiero morir", "es"),
        ("I want to kill myself", "en"),
        ("what is ECM", None),
    ],
)
async def test_crisis_pause_sets_language(domain, text, language):
    tracker = make_tracker(domain, user_message(text, "crisis"))

    outcome = await run_action(ActionCrisisPause(), domain, tracker)

    assert outcome.slots.get("language") == language
    assert outcome.slots["crisis_category"] == "suicide"
    assert outcome.messages == []


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("my baby is not breathing", "medical_emergency"),
        ("he is going to kill me", "violence"),
        ("i took too many pills", "overdose"),
        ("i keep cutting myself", "self_harm"),
    ],
)
async def test_crisis_pause_sets_category(domain, text, category):
    tracker = make_tracker(domain, user_message(text, "crisis"))

    outcome = await run_action(ActionCrisisPause(), domain, tracker)

    assert outcome.slots["crisis_category"] == category


async def test_sms_note_only_when_twilio_configured(domain, database, monkeypatch):
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "0" * 32)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "token")
    monkeypatch.setenv("TWILIO_FROM_NUMBER", "+16505550000")
    get_settings.cache_clear()
    slots = {**HANDOFF_DETAILS, "handoff_phone": "+16505550123"}

    outcome = await create_ticket(domain, slots)

    assert outcome.responses == ["utter_ticket_created", "utter_ticket_sms_note"]


# --- sessions over days ----------------------------------------------------------


async def test_returning_member_offered_unfinished_screening(domain):
    slots = {"screening_profile": {"plan": "medi-cal"}, "screening_done": False,
             "requested_slot": "q_age", "language": "es"}
    tracker = make_tracker(domain, user_message("hola", "greet"), slots=slots)

    outcome = await run_action(ActionSessionStart(), domain, tracker)

    assert outcome.event_types()[0] == "session_started"
    assert outcome.slots["screening_profile"] == {"plan": "medi-cal"}
    assert outcome.slots["language"] == "es"
    assert "requested_slot" not in outcome.slots
    assert outcome.responses == ["utter_welcome_back_screening"]


async def test_returning_member_offered_unfinished_handoff(domain):
    slots = {"handoff_name": "Ana Ruiz", "handoff_id": "h-1"}
    tracker = make_tracker(domain, user_message("hi", "greet"), slots=slots)

    outcome = await run_action(ActionSessionStart(), domain, tracker)

    assert outcome.slots["handoff_name"] == "Ana Ruiz"
    assert outcome.slots["handoff_id"] == "h-1"
    assert outcome.responses == ["utter_welcome_back_handoff"]


async def test_finished_screening_gets_no_offer(domain):
    slots = {"screening_profile": {"plan": "medi-cal"}, "screening_done": True}
    tracker = make_tracker(domain, user_message("hi", "greet"), slots=slots)

    outcome = await run_action(ActionSessionStart(), domain, tracker)

    assert outcome.responses == []
