"""Tests of the question planner: order, short-circuits, and the guarantee that
a question left unasked could not have changed any status in scope."""

from __future__ import annotations

import random
import statistics

import pytest

from bot.eligibility import (
    PROFILE_FIELDS,
    SERVICES,
    InvalidProfile,
    next_question,
    open_questions,
    screen,
)
from bot.eligibility.profile import FIELD_KINDS
from bot.eligibility.rules import get_rule_set

HPSM = "hpsm-2022"
DHCS = "dhcs-2024"
ECM_ONLY = {"ecm"}
GATES_CLEAR = {
    "plan": "medi-cal",
    "age": 45,
    "kaiser_assigned": False,
    "hospice_or_pace": False,
}
# Fields of the adult rules that are no sign for the children and youth pointer.
ADULT_ONLY_FIELDS = {
    "chronic_condition",
    "cannot_self_manage",
    "complex_social_risk",
    "high_risk",
    "crisis_services_main_care",
    "sud_ed_visits_12mo",
    "long_term_care_risk",
}
ECM_RULES_FALSE = {
    **GATES_CLEAR,
    "unhoused": False,
    "housing_insecure": False,
    "avoidable_ed_visits_12mo": 0,
    "avoidable_ed_visits_6mo": 0,
    "admissions_6mo": 0,
    "mental_health_diagnosis": False,
    "sud_diagnosis": False,
    "long_term_care_risk": False,
}
CS_READY = {
    "plan": "medi-cal",
    "willing_community_supports": True,
    "engaged_with_care_manager": True,
}

NEXT_CASES = [
    # (id, rule set, profile, scope, expected next question)
    ("empty asks plan", HPSM, {}, None, "plan"),
    ("empty ecm asks plan", HPSM, {}, ECM_ONLY, "plan"),
    ("empty service asks plan", HPSM, {}, {"home_modifications"}, "plan"),
    ("plan then age", HPSM, {"plan": "medi-cal"}, None, "age"),
    ("plan unsure then age", HPSM, {"plan": None}, None, "age"),
    ("age then kaiser", HPSM, {"plan": "medi-cal", "age": 45}, None,
     "kaiser_assigned"),
    ("kaiser then hospice", HPSM,
     {"plan": "medi-cal", "age": 45, "kaiser_assigned": False}, None,
     "hospice_or_pace"),
    ("gates then wish", HPSM, GATES_CLEAR, None, "willing_community_supports"),
    ("ecm gates then housing", HPSM, GATES_CLEAR, ECM_ONLY, "unhoused"),
    ("plan none stops", HPSM, {"plan": "none"}, None, None),
    ("plan none stops ecm", HPSM, {"plan": "none"}, ECM_ONLY, None),
    ("plan none stops service", DHCS, {"plan": "none"}, {"housing_deposits"}, None),
    ("careadvantage ecm stops", HPSM, {"plan": "careadvantage"}, ECM_ONLY, None),
    ("careadvantage asks wish", HPSM, {"plan": "careadvantage"}, None,
     "willing_community_supports"),
    ("careadvantage housing", HPSM,
     {"plan": "careadvantage", "willing_community_supports": True},
     {"housing_transition_navigation"}, "unhoused"),
    ("kaiser fixes ecm", HPSM,
     {"plan": "medi-cal", "age": 45, "kaiser_assigned": True}, ECM_ONLY, None),
    ("hospice fixes ecm", HPSM,
     {"plan": "medi-cal", "age": 45, "kaiser_assigned": False,
      "hospice_or_pace": True}, ECM_ONLY, None),
    ("likely fixes ecm", HPSM,
     {**GATES_CLEAR, "unhoused": True, "chronic_condition": True}, ECM_ONLY, None),
    ("likely by admissions", DHCS,
     {**GATES_CLEAR, "unhoused": False, "housing_insecure": False,
      "admissions_6mo": 3}, ECM_ONLY, None),
    ("unhoused asks chronic", HPSM, {**GATES_CLEAR, "unhoused": True}, ECM_ONLY,
     "chronic_condition"),
    ("dhcs asks self manage", DHCS,
     {**GATES_CLEAR, "unhoused": True, "chronic_condition": True}, ECM_ONLY,
     "cannot_self_manage"),
    ("housed skips chronic", HPSM,
     {**GATES_CLEAR, "unhoused": False, "housing_insecure": False}, ECM_ONLY,
     "avoidable_ed_visits_12mo"),
    ("dhcs asks 6 month visits", DHCS,
     {**GATES_CLEAR, "unhoused": False, "housing_insecure": False}, ECM_ONLY,
     "avoidable_ed_visits_6mo"),
    ("ed met skips admissions", HPSM,
     {**GATES_CLEAR, "unhoused": False, "housing_insecure": False,
      "avoidable_ed_visits_12mo": 6}, ECM_ONLY, None),
    ("no diagnosis skips risks", HPSM,
     {**GATES_CLEAR, "unhoused": False, "housing_insecure": False,
      "avoidable_ed_visits_12mo": 0, "admissions_6mo": 0,
      "mental_health_diagnosis": False, "sud_diagnosis": False}, ECM_ONLY,
     "long_term_care_risk"),
    ("diagnosis asks social risk", HPSM,
     {**GATES_CLEAR, "unhoused": False, "housing_insecure": False,
      "avoidable_ed_visits_12mo": 0, "admissions_6mo": 0,
      "mental_health_diagnosis": True}, ECM_ONLY, "sud_diagnosis"),
    ("child asks youth sign", HPSM,
     {"plan": "medi-cal", "age": 18, "kaiser_assigned": False,
      "hospice_or_pace": False}, ECM_ONLY, "unhoused"),
    ("child with sign stops", HPSM,
     {"plan": "medi-cal", "age": 18, "kaiser_assigned": False,
      "hospice_or_pace": False, "unhoused": True}, ECM_ONLY, None),
    ("rules false asks pointer", HPSM, ECM_RULES_FALSE, ECM_ONLY,
     "nursing_facility_days"),
    ("pointers after facility", HPSM,
     {**ECM_RULES_FALSE, "nursing_facility_days": 0}, ECM_ONLY,
     "whole_person_care_2021"),
    ("pregnancy last dhcs", DHCS,
     {**ECM_RULES_FALSE, "nursing_facility_days": 0,
      "whole_person_care_2021": False,
      "released_from_incarceration_12mo": False}, ECM_ONLY,
     "pregnant_or_postpartum"),
    ("pregnancy asked hpsm", HPSM,
     {**ECM_RULES_FALSE, "nursing_facility_days": 0,
      "whole_person_care_2021": False,
      "released_from_incarceration_12mo": False}, ECM_ONLY,
     "pregnant_or_postpartum"),
    ("all answered stops", HPSM,
     {**ECM_RULES_FALSE, "nursing_facility_days": 0,
      "whole_person_care_2021": False, "released_from_incarceration_12mo": False,
      "pregnant_or_postpartum": False}, ECM_ONLY, None),
    ("long term care stops pointers", HPSM,
     {**ECM_RULES_FALSE, "long_term_care_risk": True}, ECM_ONLY, None),
    ("pointer true stops", HPSM,
     {**ECM_RULES_FALSE, "nursing_facility_days": 0,
      "whole_person_care_2021": True}, ECM_ONLY, None),
    ("unsure rule stops pointers", HPSM,
     {**ECM_RULES_FALSE, "unhoused": None, "chronic_condition": None}, ECM_ONLY,
     None),
    ("unsure never asked again", HPSM,
     {**GATES_CLEAR, "unhoused": None}, ECM_ONLY, "housing_insecure"),
    ("not willing stops service", HPSM,
     {"plan": "medi-cal", "willing_community_supports": False},
     {"medically_tailored_meals"}, None),
    ("meals asks condition", HPSM, CS_READY, {"medically_tailored_meals"},
     "nutrition_condition"),
    ("meals asks stay", HPSM, {**CS_READY, "nutrition_condition": True},
     {"medically_tailored_meals"}, "recent_discharge_or_high_risk"),
    ("meals no condition stops", HPSM, {**CS_READY, "nutrition_condition": False},
     {"medically_tailored_meals"}, None),
    ("meals done", HPSM,
     {**CS_READY, "nutrition_condition": True,
      "recent_discharge_or_high_risk": True}, {"medically_tailored_meals"}, None),
    # Without a care manager, likely ECM could still lift the cap, so ECM
    # questions follow the service's own questions.
    ("meals then ecm", HPSM,
     {**CS_READY, "engaged_with_care_manager": False, "nutrition_condition": True,
      "recent_discharge_or_high_risk": True}, {"medically_tailored_meals"}, "age"),
    ("meals no stay no ecm", HPSM,
     {**CS_READY, "engaged_with_care_manager": False, "nutrition_condition": True,
      "recent_discharge_or_high_risk": False}, {"medically_tailored_meals"}, None),
    ("home needed asks spend", HPSM,
     {**CS_READY, "home_modification_needed": True}, {"home_modifications"},
     "home_modification_spent"),
    ("home not needed stops", HPSM,
     {**CS_READY, "home_modification_needed": False}, {"home_modifications"}, None),
    ("deposit asks history", HPSM, {**CS_READY, "unhoused": True},
     {"housing_deposits"}, "housing_deposit_received_before"),
    ("insecure asks need", HPSM,
     {**CS_READY, "unhoused": False, "housing_insecure": True},
     {"housing_tenancy_sustaining"}, "chronic_condition"),
    ("housed stops housing", HPSM,
     {**CS_READY, "unhoused": False, "housing_insecure": False},
     {"housing_transition_navigation", "housing_deposits"}, None),
    ("assisted asks days", DHCS, CS_READY, {"assisted_living_transition"},
     "nursing_facility_days"),
    ("assisted short stay", DHCS, {**CS_READY, "nursing_facility_days": 10},
     {"assisted_living_transition"}, "wants_assisted_living"),
    ("assisted short stay diversion", DHCS,
     {**CS_READY, "nursing_facility_days": 10, "wants_assisted_living": True},
     {"assisted_living_transition"}, "needs_facility_level_care"),
    ("move home short stay", DHCS, {**CS_READY, "nursing_facility_days": 10},
     {"community_transition_home"}, None),
    ("scope as string", HPSM, {"plan": "careadvantage"}, "ecm", None),
    ("empty scope is all", HPSM, {"plan": "careadvantage"}, [],
     "willing_community_supports"),
]


@pytest.mark.parametrize(
    "rule_set, profile, scope, expected",
    [case[1:] for case in NEXT_CASES],
    ids=[case[0] for case in NEXT_CASES],
)
def test_next_question(rule_set, profile, scope, expected):
    assert next_question(profile, scope, rule_set) == expected
    questions = open_questions(profile, scope, rule_set)
    assert (questions[0] if questions else None) == expected


@pytest.mark.parametrize("rule_set", [HPSM, DHCS])
def test_child_skips_adult_fields(rule_set):
    profile = {"plan": "medi-cal", "age": 18}
    questions = set(open_questions(profile, ECM_ONLY, rule_set))
    assert not questions & ADULT_ONLY_FIELDS
    assert "unhoused" in questions
    assert "mental_health_diagnosis" in questions


def test_housed_skips_chronic_for_ecm():
    profile = {**GATES_CLEAR, "unhoused": False, "housing_insecure": False}
    assert "chronic_condition" not in open_questions(profile, ECM_ONLY, HPSM)
    # Community Supports housing services still need it for an insecure member.
    insecure = {**profile, "housing_insecure": True, **CS_READY}
    assert "chronic_condition" in open_questions(
        insecure, {"housing_transition_navigation"}, HPSM
    )


def test_rule_set_fields():
    hpsm = set(open_questions({}, None, HPSM))
    dhcs = set(open_questions({}, None, DHCS))
    assert "cannot_self_manage" not in hpsm
    assert "avoidable_ed_visits_6mo" not in hpsm
    assert "avoidable_ed_visits_12mo" in hpsm
    assert "cannot_self_manage" in dhcs
    assert "avoidable_ed_visits_6mo" in dhcs
    assert "avoidable_ed_visits_12mo" not in dhcs


@pytest.mark.parametrize("rule_set", [HPSM, DHCS])
def test_pointers_come_last(rule_set):
    order = get_rule_set(rule_set).question_order
    assert order[-3:] == (
        "whole_person_care_2021",
        "released_from_incarceration_12mo",
        "pregnant_or_postpartum",
    )
    assert order[:4] == ("plan", "age", "kaiser_assigned", "hospice_or_pace")


def test_planner_input_errors():
    with pytest.raises(InvalidProfile) as caught:
        next_question({"age": 200})
    assert caught.value.field == "age"
    with pytest.raises(ValueError) as caught:
        next_question({}, {"dental"})
    assert "dental" in str(caught.value)
    with pytest.raises(ValueError):
        next_question({}, None, "no-such-rule-set")


def test_rule_set_from_environment(monkeypatch):
    profile = {**GATES_CLEAR, "unhoused": False, "housing_insecure": False}
    monkeypatch.setenv("ELIGIBILITY_RULE_SET", DHCS)
    assert next_question(profile, ECM_ONLY) == "avoidable_ed_visits_6mo"
    monkeypatch.delenv("ELIGIBILITY_RULE_SET")
    assert next_question(profile, ECM_ONLY) == "avoidable_ed_visits_12mo"


# --- Simulated interviews --------------------------------------------------------

SCOPES = [None, ECM_ONLY, {"ecm", "housing_deposits"}] + [{s} for s in SERVICES]
# Probe values for the final check: both sides of every threshold in the rule
# sets (age 21; visits 2, 3, 5, 6; days 1 and 60; the $7,500 limit).
PROBES = {
    "boolean": [True, False],
    "plan": ["medi-cal", "careadvantage", "none"],
    "age": [0, 17, 20, 21, 22, 45, 130],
    "count": [0, 1, 2, 3, 4, 5, 6, 7, 59, 60, 61],
    "money": [0, 7499.99, 7500, 20000],
}


def _random_answer(rng: random.Random, field: str):
    kind = FIELD_KINDS[field]
    if kind == "plan":
        return rng.choices(["medi-cal", "careadvantage", "none", None],
                           [70, 15, 5, 10])[0]
    if kind == "boolean":
        return rng.choices([True, False, None], [30, 55, 15])[0]
    if kind == "age":
        return rng.choice([5, 17, 20, 21, 22, 45, 70, None])
    if kind == "count":
        return rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 59, 60, None])
    return rng.choice([0, 1000, 7499.99, 7500, 9000, None])


def _interview(rng, scope, rule_set, answer=None):
    """Follow the planner until it stops; return the profile and questions asked."""
    answer = answer or _random_answer
    profile: dict = {}
    asked = []
    while True:
        field = next_question(profile, scope, rule_set)
        if field is None:
            return profile, asked
        assert field not in profile, f"{field} asked twice"
        assert field in PROFILE_FIELDS
        profile[field] = answer(rng, field)
        asked.append(field)
        assert len(asked) <= len(PROFILE_FIELDS)


def _statuses(profile, scope, rule_set):
    result = screen(profile, rule_set)
    statuses = {}
    if scope is None or "ecm" in scope:
        statuses["ecm"] = result["ecm"]["status"]
    for service in SERVICES:
        if scope is None or service in scope:
            statuses[service] = result["community_supports"][service]["status"]
    return statuses


@pytest.mark.parametrize("rule_set", [HPSM, DHCS])
@pytest.mark.parametrize(
    "scope", SCOPES, ids=["all"] + ["+".join(sorted(s)) for s in SCOPES[1:]]
)
def test_unasked_fields_cannot_matter(rule_set, scope):
    rng = random.Random(f"{rule_set}-{sorted(scope or [])}")
    for _ in range(25):
        profile, asked = _interview(rng, scope, rule_set)
        final = _statuses(profile, scope, rule_set)
        for field in PROFILE_FIELDS:
            if field in profile:
                continue
            for value in PROBES[FIELD_KINDS[field]]:
                changed = _statuses({**profile, field: value}, scope, rule_set)
                assert changed == final, (
                    f"unasked {field}={value!r} changes {final} to {changed} "
                    f"after {profile}"
                )


@pytest.mark.parametrize("rule_set", [HPSM, DHCS])
@pytest.mark.parametrize(
    "scope", SCOPES, ids=["all"] + ["+".join(sorted(s)) for s in SCOPES[1:]]
)
def test_unasked_fields_cannot_matter_together(rule_set, scope):
    # Stronger than one field at a time: answering all the unasked questions at
    # once, in any way, must not change a status either. One field alone often
    # cannot make ECM likely, so this catches a planner that stops too early.
    rng = random.Random(f"together-{rule_set}-{sorted(scope or [])}")
    for _ in range(25):
        profile, asked = _interview(rng, scope, rule_set)
        final = _statuses(profile, scope, rule_set)
        unasked = [field for field in PROFILE_FIELDS if field not in profile]
        for _ in range(30):
            completion = dict(profile)
            for field in unasked:
                if rng.random() < 0.8:
                    completion[field] = rng.choice(PROBES[FIELD_KINDS[field]])
            changed = _statuses(completion, scope, rule_set)
            assert changed == final, (
                f"answers {completion} change {final} to {changed} after {profile}"
            )


def test_unsure_equals_missing():
    # The planner's guarantee checks only concrete values, because the contract
    # makes `null` and a missing field the same for screen().
    rng = random.Random(7)
    for _ in range(50):
        profile, _ = _interview(rng, None, HPSM)
        with_nulls = {**{field: None for field in PROFILE_FIELDS}, **profile}
        assert screen(with_nulls) == screen(profile)


PERSONAS = [
    # (id, scope, answers, max questions, expected ECM status)
    ("homeless adult", ECM_ONLY,
     {**GATES_CLEAR, "unhoused": True, "chronic_condition": True}, 6, "likely"),
    ("frequent emergency visits", ECM_ONLY,
     {**GATES_CLEAR, "unhoused": False, "housing_insecure": False,
      "avoidable_ed_visits_12mo": 8}, 7, "likely"),
    ("healthy adult", ECM_ONLY, {}, 15, "unlikely"),
    ("kaiser member", ECM_ONLY,
     {"plan": "medi-cal", "age": 50, "kaiser_assigned": True}, 3, "needs_review"),
    ("not a member", None, {"plan": "none"}, 1, "unlikely"),
    ("careadvantage meals", {"medically_tailored_meals"},
     {"plan": "careadvantage", "willing_community_supports": True,
      "engaged_with_care_manager": True, "nutrition_condition": True,
      "recent_discharge_or_high_risk": True}, 5, "unlikely"),
    ("healthy adult everything", None, {}, 24, "unlikely"),
]


@pytest.mark.parametrize(
    "scope, answers, max_questions, ecm_status",
    [case[1:] for case in PERSONAS],
    ids=[case[0] for case in PERSONAS],
)
def test_typical_member_question_count(scope, answers, max_questions, ecm_status):
    # Fields not in `answers` get the answer of a member with no needs.
    def answer(rng, field):
        if field in answers:
            return answers[field]
        defaults = {"plan": "medi-cal", "age": 45, "willing_community_supports": True}
        if field in defaults:
            return defaults[field]
        return 0 if FIELD_KINDS[field] in ("count", "money") else False

    profile, asked = _interview(None, scope, HPSM, answer)
    assert len(asked) <= max_questions, asked
    assert screen(profile)["ecm"]["status"] == ecm_status


@pytest.mark.parametrize("rule_set", [HPSM, DHCS])
def test_random_interviews_stay_short(rule_set):
    rng = random.Random(11)
    ecm_counts = [len(_interview(rng, ECM_ONLY, rule_set)[1]) for _ in range(100)]
    all_counts = [len(_interview(rng, None, rule_set)[1]) for _ in range(100)]
    assert statistics.mean(ecm_counts) <= 8
    assert max(ecm_counts) <= 20
    assert statistics.mean(all_counts) <= 14
    assert max(all_counts) <= len(get_rule_set(rule_set).question_order)
