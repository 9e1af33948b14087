"""Tests of the screening engine: rules, thresholds, precedence, reasons, input."""

from __future__ import annotations

import copy
import json
import math
import random
import re
from pathlib import Path

import pytest
import yaml

from bot import eligibility
from bot.eligibility import InvalidProfile, UnknownRuleSet, screen, validate_profile
from bot.eligibility.logic import AllOf, AnyOf, Leaf, Not, explain
from bot.eligibility.reasons import GATE_CODES, POINTER_CODES, REASON_TEXTS
from bot.eligibility.rules import RULE_SET_DIR, RuleSetError, parse_rule_set

HPSM = "hpsm-2022"
DHCS = "dhcs-2024"
DESIGN_DOC = Path(__file__).resolve().parents[1] / "docs" / "design.md"
ADULT = {"plan": "medi-cal", "age": 45}
# Every ECM adult rule answered false, so one change shows its own effect.
ALL_RULES_FALSE = {
    "plan": "medi-cal",
    "age": 45,
    "kaiser_assigned": False,
    "hospice_or_pace": False,
    "unhoused": False,
    "housing_insecure": False,
    "chronic_condition": False,
    "cannot_self_manage": False,
    "avoidable_ed_visits_12mo": 0,
    "avoidable_ed_visits_6mo": 0,
    "admissions_6mo": 0,
    "mental_health_diagnosis": False,
    "sud_diagnosis": False,
    "complex_social_risk": False,
    "pregnant_or_postpartum": False,
    "sud_ed_visits_12mo": 0,
    "high_risk": False,
    "crisis_services_main_care": False,
    "long_term_care_risk": False,
    "whole_person_care_2021": False,
    "released_from_incarceration_12mo": False,
    "nursing_facility_days": 0,
    "wants_to_move_home": False,
    "wants_assisted_living": False,
}
HOMELESS = {"unhoused": True, "chronic_condition": True, "cannot_self_manage": True}
CS_READY = {
    "plan": "medi-cal",
    "age": 45,
    "willing_community_supports": True,
    "engaged_with_care_manager": True,
}


def ecm_of(profile: dict, rule_set: str = HPSM) -> dict:
    return screen(profile, rule_set)["ecm"]


def met_of(reasons: list[dict], code: str):
    """Return the `met` value of the reason with `code`; fail if it is absent."""
    found = [reason["met"] for reason in reasons if reason["code"] == code]
    assert found, f"no reason {code!r} in {[r['code'] for r in reasons]}"
    assert len(found) == 1, f"reason {code!r} listed {len(found)} times"
    return found[0]


def codes_of(reasons: list[dict]) -> list[str]:
    return [reason["code"] for reason in reasons]


# --- Thresholds and the value of each rule ------------------------------------

THRESHOLD_CASES = [
    # (id, rule set, profile changes on ALL_RULES_FALSE, reason code, met)
    ("age 20 not adult", HPSM, {"age": 20}, "adult", False),
    ("age 21 adult", HPSM, {"age": 21, **HOMELESS}, "adult", True),
    ("age unknown", HPSM, {"age": None, **HOMELESS}, "adult", None),
    ("age 20 dhcs", DHCS, {"age": 20}, "adult", False),
    ("age 21 dhcs", DHCS, {"age": 21, **HOMELESS}, "adult", True),
    ("hpsm ed 5", HPSM, {"avoidable_ed_visits_12mo": 5}, "ed_visits", False),
    ("hpsm ed 6", HPSM, {"avoidable_ed_visits_12mo": 6}, "ed_visits", True),
    ("hpsm ed 5 rule", HPSM, {"avoidable_ed_visits_12mo": 5}, "high_utilization",
     False),
    ("hpsm ed 6 rule", HPSM, {"avoidable_ed_visits_12mo": 6}, "high_utilization", True),
    ("hpsm ed unknown", HPSM, {"avoidable_ed_visits_12mo": None}, "ed_visits", None),
    (
        "hpsm ed unknown rule",
        HPSM,
        {"avoidable_ed_visits_12mo": None},
        "high_utilization",
        None,
    ),
    (
        "hpsm ignores 6 month ed",
        HPSM,
        {"avoidable_ed_visits_6mo": 9},
        "high_utilization",
        False,
    ),
    ("dhcs ed 4", DHCS, {"avoidable_ed_visits_6mo": 4}, "ed_visits", False),
    ("dhcs ed 5", DHCS, {"avoidable_ed_visits_6mo": 5}, "ed_visits", True),
    ("dhcs ed 5 rule", DHCS, {"avoidable_ed_visits_6mo": 5}, "high_utilization", True),
    ("dhcs ed unknown", DHCS, {"avoidable_ed_visits_6mo": None}, "ed_visits", None),
    (
        "dhcs ignores 12 month ed",
        DHCS,
        {"avoidable_ed_visits_12mo": 9},
        "high_utilization",
        False,
    ),
    ("hpsm admissions 2", HPSM, {"admissions_6mo": 2}, "admissions", False),
    ("hpsm admissions 3", HPSM, {"admissions_6mo": 3}, "admissions", True),
    ("hpsm admissions 3 rule", HPSM, {"admissions_6mo": 3}, "high_utilization", True),
    ("hpsm admissions unknown", HPSM, {"admissions_6mo": None}, "admissions", None),
    ("dhcs admissions 2", DHCS, {"admissions_6mo": 2}, "admissions", False),
    ("dhcs admissions 3", DHCS, {"admissions_6mo": 3}, "admissions", True),
    (
        "sud ed 1 not risk",
        HPSM,
        {"mental_health_diagnosis": True, "complex_social_risk": True,
         "sud_ed_visits_12mo": 1},
        "risk_factor",
        False,
    ),
    (
        "sud ed 2 is risk",
        HPSM,
        {"mental_health_diagnosis": True, "complex_social_risk": True,
         "sud_ed_visits_12mo": 2},
        "risk_factor",
        True,
    ),
    (
        "sud ed 2 mental health",
        HPSM,
        {"mental_health_diagnosis": True, "complex_social_risk": True,
         "sud_ed_visits_12mo": 2},
        "mental_health",
        True,
    ),
    (
        "sud ed 2 dhcs",
        DHCS,
        {"sud_diagnosis": True, "complex_social_risk": True, "sud_ed_visits_12mo": 2},
        "substance_use",
        True,
    ),
    (
        "sud ed 1 dhcs",
        DHCS,
        {"sud_diagnosis": True, "complex_social_risk": True, "sud_ed_visits_12mo": 1},
        "substance_use",
        False,
    ),
    (
        "sud ed unknown",
        HPSM,
        {"sud_diagnosis": True, "complex_social_risk": True,
         "sud_ed_visits_12mo": None},
        "substance_use",
        None,
    ),
    (
        "high risk counts",
        HPSM,
        {"sud_diagnosis": True, "complex_social_risk": True, "high_risk": True},
        "substance_use",
        True,
    ),
    (
        "crisis care counts",
        DHCS,
        {"mental_health_diagnosis": True, "complex_social_risk": True,
         "crisis_services_main_care": True},
        "mental_health",
        True,
    ),
    (
        "pregnancy counts hpsm",
        HPSM,
        {"mental_health_diagnosis": True, "complex_social_risk": True,
         "pregnant_or_postpartum": True},
        "mental_health",
        True,
    ),
    (
        "pregnancy ignored dhcs",
        DHCS,
        {"mental_health_diagnosis": True, "complex_social_risk": True,
         "pregnant_or_postpartum": True},
        "mental_health",
        False,
    ),
    (
        "social risk false",
        HPSM,
        {"mental_health_diagnosis": True, "high_risk": True},
        "mental_health",
        False,
    ),
    (
        "social risk unknown",
        HPSM,
        {"mental_health_diagnosis": True, "high_risk": True,
         "complex_social_risk": None},
        "mental_health",
        None,
    ),
    (
        "diagnosis unknown",
        HPSM,
        {"mental_health_diagnosis": None, "complex_social_risk": True,
         "high_risk": True},
        "mental_health",
        None,
    ),
    ("unhoused chronic", HPSM, {"unhoused": True, "chronic_condition": True},
     "homelessness", True),
    ("insecure chronic", HPSM, {"housing_insecure": True, "chronic_condition": True},
     "homelessness", True),
    ("unhoused no chronic", HPSM, {"unhoused": True}, "homelessness", False),
    ("housing unknown", HPSM, {"unhoused": None, "chronic_condition": True},
     "homelessness", None),
    ("housing unknown reason", HPSM, {"unhoused": None, "chronic_condition": True},
     "housing_situation", None),
    ("chronic unknown", HPSM, {"unhoused": True, "chronic_condition": None},
     "homelessness", None),
    (
        "hpsm ignores self manage",
        HPSM,
        {"unhoused": True, "chronic_condition": True, "cannot_self_manage": False},
        "homelessness",
        True,
    ),
    (
        "dhcs needs self manage",
        DHCS,
        {"unhoused": True, "chronic_condition": True, "cannot_self_manage": False},
        "homelessness",
        False,
    ),
    (
        "dhcs self manage met",
        DHCS,
        {"unhoused": True, "chronic_condition": True, "cannot_self_manage": True},
        "homelessness",
        True,
    ),
    (
        "dhcs self manage unknown",
        DHCS,
        {"unhoused": True, "chronic_condition": True, "cannot_self_manage": None},
        "homelessness",
        None,
    ),
    ("long term care true", HPSM, {"long_term_care_risk": True}, "long_term_care",
     True),
    ("long term care unknown", HPSM, {"long_term_care_risk": None},
     "long_term_care", None),
    ("long term care child", HPSM, {"age": 20, "long_term_care_risk": True},
     "long_term_care", False),
]


@pytest.mark.parametrize(
    "rule_set, changes, code, met",
    [case[1:] for case in THRESHOLD_CASES],
    ids=[case[0] for case in THRESHOLD_CASES],
)
def test_rule_threshold(rule_set, changes, code, met):
    profile = {**ALL_RULES_FALSE, **changes}
    ecm = ecm_of(profile, rule_set)
    assert met_of(ecm["reasons"], code) is met


@pytest.mark.parametrize("rule_set", [HPSM, DHCS])
def test_unknown_differs_from_false(rule_set):
    # Each ECM rule field, unknown (None or missing) while every other part of
    # its rule is met, leaves the rule unknown (needs_review); false gives
    # unlikely. The other parts are set so that the field decides.
    ed_field = (
        "avoidable_ed_visits_12mo" if rule_set == HPSM else "avoidable_ed_visits_6mo"
    )
    cases = [
        ({"unhoused": True, "cannot_self_manage": True}, "chronic_condition", False),
        ({"chronic_condition": True, "cannot_self_manage": True}, "unhoused", False),
        ({"mental_health_diagnosis": True, "high_risk": True},
         "complex_social_risk", False),
        ({"complex_social_risk": True, "high_risk": True},
         "mental_health_diagnosis", False),
        ({"complex_social_risk": True, "high_risk": True}, "sud_diagnosis", False),
        ({}, "long_term_care_risk", False),
        ({}, "admissions_6mo", 0),
        ({}, ed_field, 0),
        # Long-term care risk is no sign for the children and youth pointer.
        ({"long_term_care_risk": True}, "age", 20),
    ]
    for changes, field, false_value in cases:
        base = {**ALL_RULES_FALSE, **changes}
        unknown = ecm_of({**base, field: None}, rule_set)
        missing_profile = dict(base)
        missing_profile.pop(field, None)
        missing = ecm_of(missing_profile, rule_set)
        false = ecm_of({**base, field: false_value}, rule_set)
        assert unknown["status"] == "needs_review", field
        assert missing["status"] == "needs_review", field
        assert unknown["possible_populations"], field
        assert false["status"] == "unlikely", field


# --- ECM status and precedence -------------------------------------------------

STATUS_CASES = [
    # (id, rule set, profile, status, route, populations, possible populations)
    ("nothing known", HPSM, {}, "needs_review", "hpsm", [],
     ["homelessness", "high_utilization", "mental_health", "substance_use",
      "long_term_care"]),
    ("all false", HPSM, ALL_RULES_FALSE, "unlikely", None, [], []),
    ("all false dhcs", DHCS, ALL_RULES_FALSE, "unlikely", None, [], []),
    ("homeless likely", HPSM, {**ALL_RULES_FALSE, **HOMELESS}, "likely", "hpsm",
     ["homelessness"], []),
    (
        "two populations",
        HPSM,
        {**ALL_RULES_FALSE, **HOMELESS, "admissions_6mo": 4},
        "likely",
        "hpsm",
        ["homelessness", "high_utilization"],
        [],
    ),
    (
        "all four populations",
        HPSM,
        {**ALL_RULES_FALSE, **HOMELESS, "admissions_6mo": 4,
         "mental_health_diagnosis": True, "sud_diagnosis": True,
         "complex_social_risk": True, "high_risk": True},
        "likely",
        "hpsm",
        ["homelessness", "high_utilization", "mental_health", "substance_use"],
        [],
    ),
    ("plan none", HPSM, {**ALL_RULES_FALSE, **HOMELESS, "plan": "none"},
     "unlikely", None, [], []),
    ("plan none kaiser", HPSM, {"plan": "none", "kaiser_assigned": True},
     "unlikely", None, [], []),
    ("careadvantage", HPSM, {**ALL_RULES_FALSE, **HOMELESS, "plan": "careadvantage"},
     "unlikely", None, [], []),
    ("careadvantage kaiser", HPSM, {"plan": "careadvantage", "kaiser_assigned": True},
     "unlikely", None, [], []),
    ("kaiser route", HPSM, {**ALL_RULES_FALSE, **HOMELESS, "kaiser_assigned": True},
     "needs_review", "kaiser", [], []),
    ("kaiser all false", HPSM, {**ALL_RULES_FALSE, "kaiser_assigned": True},
     "needs_review", "kaiser", [], []),
    ("kaiser before hospice", HPSM,
     {**ALL_RULES_FALSE, "kaiser_assigned": True, "hospice_or_pace": True},
     "needs_review", "kaiser", [], []),
    ("hospice overlap", HPSM, {**ALL_RULES_FALSE, **HOMELESS, "hospice_or_pace": True},
     "needs_review", "hpsm", ["homelessness"], []),
    ("hospice all false", HPSM, {**ALL_RULES_FALSE, "hospice_or_pace": True},
     "needs_review", "hpsm", [], []),
    ("long term care only", HPSM, {**ALL_RULES_FALSE, "long_term_care_risk": True},
     "needs_review", "hpsm", [], ["long_term_care"]),
    ("long term care dhcs", DHCS, {**ALL_RULES_FALSE, "long_term_care_risk": True},
     "needs_review", "hpsm", [], ["long_term_care"]),
    ("long term care and rule", HPSM,
     {**ALL_RULES_FALSE, **HOMELESS, "long_term_care_risk": True},
     "likely", "hpsm", ["homelessness"], ["long_term_care"]),
    ("whole person care", HPSM, {**ALL_RULES_FALSE, "whole_person_care_2021": True},
     "needs_review", "hpsm", [], ["whole_person_care"]),
    ("whole person care and rule", HPSM,
     {**ALL_RULES_FALSE, **HOMELESS, "whole_person_care_2021": True},
     "likely", "hpsm", ["homelessness"], ["whole_person_care"]),
    ("one rule unknown", HPSM, {**ALL_RULES_FALSE, "chronic_condition": None,
                                "unhoused": True},
     "needs_review", "hpsm", [], ["homelessness"]),
    ("rule met beats unknown", HPSM,
     {**ALL_RULES_FALSE, "admissions_6mo": 3, "mental_health_diagnosis": None,
      "complex_social_risk": True, "high_risk": True},
     "likely", "hpsm", ["high_utilization"], ["mental_health"]),
    # NOTE-backed reading: an unknown plan does not lower ECM on its own.
    ("plan unknown", HPSM, {**ALL_RULES_FALSE, **HOMELESS, "plan": None},
     "likely", "hpsm", ["homelessness"], []),
    ("justice involved", HPSM,
     {**ALL_RULES_FALSE, "released_from_incarceration_12mo": True},
     "needs_review", "hpsm", [], ["justice_involved"]),
    ("birth equity", HPSM, {**ALL_RULES_FALSE, "pregnant_or_postpartum": True},
     "needs_review", "hpsm", [], ["birth_equity"]),
    ("birth equity dhcs", DHCS, {**ALL_RULES_FALSE, "pregnant_or_postpartum": True},
     "needs_review", "hpsm", [], ["birth_equity"]),
    ("child with sign", HPSM, {**ALL_RULES_FALSE, "age": 17, "unhoused": True},
     "needs_review", "hpsm", [], ["children_youth"]),
    ("child ed visits 3", HPSM,
     {**ALL_RULES_FALSE, "age": 12, "avoidable_ed_visits_12mo": 3},
     "needs_review", "hpsm", [], ["children_youth"]),
    ("child ed visits 2", HPSM,
     {**ALL_RULES_FALSE, "age": 12, "avoidable_ed_visits_12mo": 2},
     "unlikely", None, [], []),
    ("child admissions 2", DHCS, {**ALL_RULES_FALSE, "age": 20, "admissions_6mo": 2},
     "needs_review", "hpsm", [], ["children_youth"]),
    ("child ed 6 months dhcs", DHCS,
     {**ALL_RULES_FALSE, "age": 20, "avoidable_ed_visits_6mo": 3},
     "needs_review", "hpsm", [], ["children_youth"]),
    ("child no sign", HPSM, {**ALL_RULES_FALSE, "age": 17}, "unlikely", None, [], []),
    ("adult sign not child", HPSM, {**ALL_RULES_FALSE, "age": 21, "unhoused": True},
     "unlikely", None, [], []),
    # The pointer needs age under 21 to be true, not unknown.
    ("child sign age unknown", HPSM,
     {**ALL_RULES_FALSE, "age": None, "unhoused": True},
     "unlikely", None, [], []),
    ("facility resident moving", HPSM,
     {**ALL_RULES_FALSE, "nursing_facility_days": 10, "wants_to_move_home": True},
     "needs_review", "hpsm", [], ["nursing_facility_transition"]),
    ("facility resident assisted living", HPSM,
     {**ALL_RULES_FALSE, "nursing_facility_days": 90, "wants_assisted_living": True},
     "needs_review", "hpsm", [], ["nursing_facility_transition"]),
    ("not in facility", HPSM,
     {**ALL_RULES_FALSE, "nursing_facility_days": 0, "wants_to_move_home": True},
     "unlikely", None, [], []),
    ("pointer unknown is nothing", HPSM,
     {**ALL_RULES_FALSE, "released_from_incarceration_12mo": None,
      "whole_person_care_2021": None, "pregnant_or_postpartum": None,
      "nursing_facility_days": None, "wants_to_move_home": None},
     "unlikely", None, [], []),
    ("every pointer", HPSM,
     {**ALL_RULES_FALSE, "age": 19, "unhoused": True, "whole_person_care_2021": True,
      "released_from_incarceration_12mo": True, "pregnant_or_postpartum": True,
      "nursing_facility_days": 5, "wants_to_move_home": True},
     "needs_review", "hpsm", [],
     ["whole_person_care", "justice_involved", "children_youth", "birth_equity",
      "nursing_facility_transition"]),
]


@pytest.mark.parametrize(
    "rule_set, profile, status, route, populations, possible",
    [case[1:] for case in STATUS_CASES],
    ids=[case[0] for case in STATUS_CASES],
)
def test_ecm_status(rule_set, profile, status, route, populations, possible):
    ecm = ecm_of(profile, rule_set)
    assert ecm["status"] == status
    assert ecm["route"] == route
    assert ecm["populations"] == populations
    assert ecm["possible_populations"] == possible


GATE_REASON_CASES = [
    ("plan none", {**ADULT, **HOMELESS, "plan": "none"}, ["not_member"]),
    ("careadvantage", {**ADULT, **HOMELESS, "plan": "careadvantage"},
     ["careadvantage_plan"]),
    ("kaiser", {**ADULT, **HOMELESS, "kaiser_assigned": True}, ["kaiser_assigned"]),
]


@pytest.mark.parametrize(
    "profile, codes",
    [case[1:] for case in GATE_REASON_CASES],
    ids=[case[0] for case in GATE_REASON_CASES],
)
def test_gate_lists_only_gate(profile, codes):
    reasons = ecm_of(profile)["reasons"]
    assert codes_of(reasons) == codes
    assert reasons[0]["met"] is True


def test_hospice_still_lists_rules():
    ecm = ecm_of({**ALL_RULES_FALSE, **HOMELESS, "hospice_or_pace": True})
    codes = codes_of(ecm["reasons"])
    assert codes[0] == "hospice_or_pace"
    assert met_of(ecm["reasons"], "homelessness") is True
    assert met_of(ecm["reasons"], "high_utilization") is False
    assert "long_term_care" in codes


def test_long_term_care_never_likely():
    # Even with every other field favourable, long-term care alone is review.
    profile = {**ALL_RULES_FALSE, "long_term_care_risk": True}
    for rule_set in eligibility.RULE_SETS:
        ecm = ecm_of(profile, rule_set)
        assert ecm["status"] == "needs_review"
        assert "long_term_care" not in ecm["populations"]


def test_pointer_reasons_listed():
    ecm = ecm_of({**ALL_RULES_FALSE, "released_from_incarceration_12mo": True,
                  "whole_person_care_2021": True})
    assert met_of(ecm["reasons"], "justice_involved") is True
    assert met_of(ecm["reasons"], "whole_person_care") is True
    assert "birth_equity" not in codes_of(ecm["reasons"])


def test_age_explains_failed_rules():
    # A child's adult rules fail on age alone, so unknown answers are not listed.
    ecm = ecm_of({"plan": "medi-cal", "age": 12})
    assert met_of(ecm["reasons"], "adult") is False
    for code in ("homelessness", "high_utilization", "mental_health",
                 "substance_use", "long_term_care"):
        assert met_of(ecm["reasons"], code) is False
    assert "chronic_condition" not in codes_of(ecm["reasons"])
    assert "ed_visits" not in codes_of(ecm["reasons"])


def test_reason_text_shows_numbers():
    ecm = ecm_of({**ALL_RULES_FALSE, "avoidable_ed_visits_12mo": 7})
    text = [r["text"] for r in ecm["reasons"] if r["code"] == "ed_visits"][0]
    assert "7" in text
    assert "6 or more" in text
    assert "12 months" in text
    ecm = ecm_of({**ALL_RULES_FALSE, "avoidable_ed_visits_6mo": 4}, DHCS)
    text = [r["text"] for r in ecm["reasons"] if r["code"] == "ed_visits"][0]
    assert "4" in text
    assert "5 or more" in text
    assert "6 months" in text


# --- Community Supports ------------------------------------------------------------

SERVICE_CASES = [
    # (id, profile changes on CS_READY, service, status)
    ("nav unhoused", {"unhoused": True}, "housing_transition_navigation", "likely"),
    ("nav insecure chronic", {"unhoused": False, "housing_insecure": True,
                              "chronic_condition": True},
     "housing_transition_navigation", "likely"),
    ("nav insecure sud", {"unhoused": False, "housing_insecure": True,
                          "sud_diagnosis": True},
     "housing_transition_navigation", "likely"),
    ("nav insecure no need",
     {"unhoused": False, "housing_insecure": True, "chronic_condition": False,
      "mental_health_diagnosis": False, "sud_diagnosis": False, "high_risk": False,
      "long_term_care_risk": False},
     "housing_transition_navigation", "unlikely"),
    ("nav insecure need unknown", {"unhoused": False, "housing_insecure": True},
     "housing_transition_navigation", "needs_review"),
    ("nav housed", {"unhoused": False, "housing_insecure": False},
     "housing_transition_navigation", "unlikely"),
    ("nav housing unknown", {"unhoused": None}, "housing_transition_navigation",
     "needs_review"),
    ("nav not engaged", {"unhoused": True, "engaged_with_care_manager": False},
     "housing_transition_navigation", "needs_review"),
    ("nav engaged unknown", {"unhoused": True, "engaged_with_care_manager": None},
     "housing_transition_navigation", "needs_review"),
    ("nav ecm likely stands in",
     {**HOMELESS, "engaged_with_care_manager": False, "kaiser_assigned": False,
      "hospice_or_pace": False},
     "housing_transition_navigation", "likely"),
    ("nav not willing", {"unhoused": True, "willing_community_supports": False},
     "housing_transition_navigation", "unlikely"),
    ("nav willing unknown", {"unhoused": True, "willing_community_supports": None},
     "housing_transition_navigation", "needs_review"),
    ("nav plan none", {"unhoused": True, "plan": "none"},
     "housing_transition_navigation", "unlikely"),
    ("nav careadvantage", {"unhoused": True, "plan": "careadvantage"},
     "housing_transition_navigation", "likely"),
    ("nav plan unknown", {"unhoused": True, "plan": None},
     "housing_transition_navigation", "needs_review"),
    ("deposit first", {"unhoused": True, "housing_deposit_received_before": False},
     "housing_deposits", "likely"),
    ("deposit again", {"unhoused": True, "housing_deposit_received_before": True},
     "housing_deposits", "needs_review"),
    ("deposit history unknown", {"unhoused": True}, "housing_deposits",
     "needs_review"),
    ("deposit housed", {"unhoused": False, "housing_insecure": False,
                        "housing_deposit_received_before": False},
     "housing_deposits", "unlikely"),
    ("deposit housed again", {"unhoused": False, "housing_insecure": False,
                              "housing_deposit_received_before": True},
     "housing_deposits", "unlikely"),
    ("tenancy unhoused", {"unhoused": True}, "housing_tenancy_sustaining", "likely"),
    ("tenancy housed", {"unhoused": False, "housing_insecure": False},
     "housing_tenancy_sustaining", "unlikely"),
    ("tenancy unknown", {}, "housing_tenancy_sustaining", "needs_review"),
    ("assisted 60 days", {"nursing_facility_days": 60, "wants_assisted_living": True,
                          "safe_in_community_with_support": True},
     "assisted_living_transition", "likely"),
    ("assisted 59 days",
     {"nursing_facility_days": 59, "wants_assisted_living": True,
      "safe_in_community_with_support": True, "needs_facility_level_care": False},
     "assisted_living_transition", "unlikely"),
    ("assisted 59 days diversion",
     {"nursing_facility_days": 59, "wants_assisted_living": True,
      "safe_in_community_with_support": True, "needs_facility_level_care": True},
     "assisted_living_transition", "needs_review"),
    ("assisted diversion",
     {"nursing_facility_days": 0, "wants_assisted_living": True,
      "needs_facility_level_care": True},
     "assisted_living_transition", "needs_review"),
    ("assisted not wanted",
     {"nursing_facility_days": 90, "wants_assisted_living": False,
      "safe_in_community_with_support": True, "needs_facility_level_care": True},
     "assisted_living_transition", "unlikely"),
    ("assisted unsafe",
     {"nursing_facility_days": 90, "wants_assisted_living": True,
      "safe_in_community_with_support": False, "needs_facility_level_care": False},
     "assisted_living_transition", "unlikely"),
    ("assisted safety unknown",
     {"nursing_facility_days": 90, "wants_assisted_living": True,
      "needs_facility_level_care": False},
     "assisted_living_transition", "needs_review"),
    ("assisted days unknown",
     {"wants_assisted_living": True, "safe_in_community_with_support": True,
      "needs_facility_level_care": False},
     "assisted_living_transition", "needs_review"),
    ("home 60 days", {"nursing_facility_days": 60, "wants_to_move_home": True,
                      "safe_in_community_with_support": True},
     "community_transition_home", "likely"),
    ("home 59 days", {"nursing_facility_days": 59, "wants_to_move_home": True,
                      "safe_in_community_with_support": True},
     "community_transition_home", "unlikely"),
    ("home not wanted", {"nursing_facility_days": 60, "wants_to_move_home": False,
                         "safe_in_community_with_support": True},
     "community_transition_home", "unlikely"),
    ("home unsafe", {"nursing_facility_days": 60, "wants_to_move_home": True,
                     "safe_in_community_with_support": False},
     "community_transition_home", "unlikely"),
    ("home safety unknown", {"nursing_facility_days": 60, "wants_to_move_home": True,
                             "safe_in_community_with_support": None},
     "community_transition_home", "needs_review"),
    ("home days unknown", {"wants_to_move_home": True,
                           "safe_in_community_with_support": True},
     "community_transition_home", "needs_review"),
    ("home not engaged",
     {"nursing_facility_days": 60, "wants_to_move_home": True,
      "safe_in_community_with_support": True, "engaged_with_care_manager": False},
     "community_transition_home", "needs_review"),
    ("modification nothing spent", {"home_modification_needed": True,
                                    "home_modification_spent": 0},
     "home_modifications", "needs_review"),
    ("modification just under", {"home_modification_needed": True,
                                 "home_modification_spent": 7499.99},
     "home_modifications", "needs_review"),
    ("modification at limit", {"home_modification_needed": True,
                               "home_modification_spent": 7500},
     "home_modifications", "unlikely"),
    ("modification over limit", {"home_modification_needed": True,
                                 "home_modification_spent": 9000.5},
     "home_modifications", "unlikely"),
    ("modification spend unknown", {"home_modification_needed": True},
     "home_modifications", "needs_review"),
    ("modification not needed", {"home_modification_needed": False,
                                 "home_modification_spent": 0},
     "home_modifications", "unlikely"),
    ("modification need unknown", {"home_modification_spent": 0},
     "home_modifications", "needs_review"),
    ("meals after stay", {"nutrition_condition": True,
                          "recent_discharge_or_high_risk": True},
     "medically_tailored_meals", "likely"),
    ("meals no stay", {"nutrition_condition": True,
                       "recent_discharge_or_high_risk": False},
     "medically_tailored_meals", "needs_review"),
    ("meals stay unknown", {"nutrition_condition": True},
     "medically_tailored_meals", "needs_review"),
    ("meals no condition", {"nutrition_condition": False,
                            "recent_discharge_or_high_risk": True},
     "medically_tailored_meals", "unlikely"),
    ("meals condition unknown", {"recent_discharge_or_high_risk": True},
     "medically_tailored_meals", "needs_review"),
    ("meals careadvantage", {"plan": "careadvantage", "nutrition_condition": True,
                             "recent_discharge_or_high_risk": True},
     "medically_tailored_meals", "likely"),
    ("meals not willing", {"nutrition_condition": True,
                           "recent_discharge_or_high_risk": True,
                           "willing_community_supports": False},
     "medically_tailored_meals", "unlikely"),
]


@pytest.mark.parametrize(
    "changes, service, status",
    [case[1:] for case in SERVICE_CASES],
    ids=[case[0] for case in SERVICE_CASES],
)
@pytest.mark.parametrize("rule_set", [HPSM, DHCS])
def test_service_status(rule_set, changes, service, status):
    result = screen({**CS_READY, **changes}, rule_set)
    assert result["community_supports"][service]["status"] == status


def test_home_modifications_never_likely():
    best = {**CS_READY, "home_modification_needed": True, "home_modification_spent": 0}
    best.update(HOMELESS)
    for rule_set in eligibility.RULE_SETS:
        result = screen(best, rule_set)
        assert result["ecm"]["status"] == "likely"
        service = result["community_supports"]["home_modifications"]
        assert service["status"] == "needs_review"


def test_plan_none_closes_every_service():
    result = screen({"plan": "none", "willing_community_supports": True,
                     "unhoused": True, "engaged_with_care_manager": True})
    for service in eligibility.SERVICES:
        cs = result["community_supports"][service]
        assert cs["status"] == "unlikely", service
        assert codes_of(cs["reasons"]) == ["not_member"], service


def test_not_willing_lists_only_choice():
    result = screen({**CS_READY, "willing_community_supports": False})
    for service in eligibility.SERVICES:
        reasons = result["community_supports"][service]["reasons"]
        assert codes_of(reasons) == ["willing_community_supports"], service
        assert reasons[0]["met"] is False


def test_service_reasons():
    result = screen({**CS_READY, "unhoused": True,
                     "housing_deposit_received_before": True})
    reasons = result["community_supports"]["housing_deposits"]["reasons"]
    assert codes_of(reasons) == [
        "willing_community_supports",
        "engaged_with_care_manager",
        "housing_need",
        "deposit_used_before",
    ]
    assert met_of(reasons, "deposit_used_before") is True
    assert met_of(reasons, "housing_need") is True


def test_ecm_likely_counts_as_care_manager():
    profile = {**ALL_RULES_FALSE, **HOMELESS, "willing_community_supports": True,
               "engaged_with_care_manager": False}
    reasons = screen(profile)["community_supports"]["housing_tenancy_sustaining"][
        "reasons"
    ]
    assert met_of(reasons, "engaged_with_care_manager") is True


def test_home_modification_limit_text():
    result = screen({**CS_READY, "home_modification_needed": True,
                     "home_modification_spent": 7500})
    reasons = result["community_supports"]["home_modifications"]["reasons"]
    assert met_of(reasons, "home_modification_limit") is False
    text = [r["text"] for r in reasons if r["code"] == "home_modification_limit"][0]
    assert "$7,500" in text


# --- Result shape and reason codes -------------------------------------------------


def _design_reason_codes() -> set[str]:
    text = DESIGN_DOC.read_text(encoding="utf-8")
    section = text.split("### Reason codes", 1)[1]
    return set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE))


def test_reason_codes_match_design():
    assert set(REASON_TEXTS) == _design_reason_codes()


def _random_profile(rng: random.Random) -> dict:
    profile = {}
    for field, kind in eligibility.profile.FIELD_KINDS.items():
        if rng.random() < 0.3:
            continue
        if kind == "boolean":
            profile[field] = rng.choice([True, False, None])
        elif kind == "plan":
            profile[field] = rng.choice(["medi-cal", "careadvantage", "none", None])
        elif kind == "age":
            profile[field] = rng.choice([0, 17, 20, 21, 45, 90, None])
        elif kind == "count":
            profile[field] = rng.choice([0, 1, 2, 3, 5, 6, 59, 60, None])
        else:
            profile[field] = rng.choice([0, 7499.99, 7500, None])
    return profile


@pytest.mark.parametrize("rule_set", [HPSM, DHCS])
def test_result_shape_random_profiles(rule_set):
    rng = random.Random(20240601)
    known_codes = set(REASON_TEXTS)
    for _ in range(400):
        profile = _random_profile(rng)
        result = screen(profile, rule_set)
        assert json.loads(json.dumps(result)) == result
        assert set(result) == {"rule_set", "ecm", "community_supports"}
        assert result["rule_set"] == rule_set

        ecm = result["ecm"]
        assert set(ecm) == {"status", "route", "populations",
                            "possible_populations", "reasons"}
        assert ecm["status"] in eligibility.STATUSES
        assert (ecm["route"] is None) == (ecm["status"] == "unlikely")
        assert tuple(result["community_supports"]) == eligibility.SERVICES

        every_reason = list(ecm["reasons"])
        for service in result["community_supports"].values():
            assert set(service) == {"status", "reasons"}
            assert service["status"] in eligibility.STATUSES
            every_reason.extend(service["reasons"])
        for reason in every_reason:
            assert set(reason) == {"code", "met", "text"}
            assert reason["code"] in known_codes
            assert reason["met"] in (True, False, None)
            assert reason["text"] and "{" not in reason["text"]
            if reason["code"] in GATE_CODES | POINTER_CODES:
                assert reason["met"] is True, reason


def test_screen_does_not_change_input():
    profile = {**ALL_RULES_FALSE, **HOMELESS}
    before = copy.deepcopy(profile)
    screen(profile)
    assert profile == before


def test_rule_set_from_environment(monkeypatch):
    monkeypatch.setenv("ELIGIBILITY_RULE_SET", DHCS)
    assert screen({})["rule_set"] == DHCS
    assert screen({}, HPSM)["rule_set"] == HPSM
    monkeypatch.delenv("ELIGIBILITY_RULE_SET")
    assert screen({})["rule_set"] == HPSM


def test_unknown_rule_set():
    with pytest.raises(UnknownRuleSet) as caught:
        screen({}, "hpsm-2099")
    assert "hpsm-2099" in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_rule_set_names():
    from bot import settings

    assert eligibility.DEFAULT_RULE_SET == HPSM
    assert eligibility.RULE_SETS[0] == HPSM
    assert set(eligibility.RULE_SETS) == {HPSM, DHCS}
    assert set(settings.RULE_SETS) == set(eligibility.RULE_SETS)


# --- Invalid profiles ----------------------------------------------------------

INVALID_CASES = [
    # (id, profile, field named in the error)
    ("age as string", {"age": "45"}, "age"),
    ("age over 130", {"age": 131}, "age"),
    ("age negative", {"age": -1}, "age"),
    ("age fraction", {"age": 45.5}, "age"),
    ("age as bool", {"age": True}, "age"),
    ("bool as int", {"unhoused": 1}, "unhoused"),
    ("bool as zero", {"kaiser_assigned": 0}, "kaiser_assigned"),
    ("bool as string", {"unhoused": "true"}, "unhoused"),
    ("count negative", {"avoidable_ed_visits_12mo": -1}, "avoidable_ed_visits_12mo"),
    ("count as bool", {"admissions_6mo": True}, "admissions_6mo"),
    ("count fraction", {"sud_ed_visits_12mo": 1.5}, "sud_ed_visits_12mo"),
    ("count as string", {"nursing_facility_days": "60"}, "nursing_facility_days"),
    ("count as list", {"admissions_6mo": [3]}, "admissions_6mo"),
    ("count nan", {"admissions_6mo": math.nan}, "admissions_6mo"),
    ("money negative", {"home_modification_spent": -5}, "home_modification_spent"),
    ("money infinite", {"home_modification_spent": math.inf},
     "home_modification_spent"),
    ("money nan", {"home_modification_spent": math.nan}, "home_modification_spent"),
    ("money as string", {"home_modification_spent": "7500"},
     "home_modification_spent"),
    ("money as bool", {"home_modification_spent": False}, "home_modification_spent"),
    ("plan unknown value", {"plan": "medicare"}, "plan"),
    ("plan wrong case", {"plan": "Medi-Cal"}, "plan"),
    ("plan as number", {"plan": 1}, "plan"),
    ("unknown field", {"homeless": True}, "homeless"),
    ("second field bad", {"age": 40, "unhoused": "yes"}, "unhoused"),
    ("not a mapping", [("age", 40)], "profile"),
    ("none profile", None, "profile"),
]


@pytest.mark.parametrize(
    "profile, field",
    [case[1:] for case in INVALID_CASES],
    ids=[case[0] for case in INVALID_CASES],
)
def test_invalid_profile(profile, field):
    with pytest.raises(InvalidProfile) as caught:
        screen(profile)
    assert caught.value.field == field
    assert isinstance(caught.value, ValueError)
    assert field in str(caught.value)
    assert "\n" not in str(caught.value)


def test_unknown_field_suggests_name():
    with pytest.raises(InvalidProfile) as caught:
        validate_profile({"unhousd": True})
    assert "unhoused" in str(caught.value)


VALID_EDGE_CASES = [
    ("age zero", {"age": 0}),
    ("age 130", {"age": 130}),
    ("whole float age", {"age": 45.0}),
    ("all null", {field: None for field in eligibility.PROFILE_FIELDS}),
    ("money float", {"home_modification_spent": 12.5}),
    ("large count", {"avoidable_ed_visits_12mo": 10**6}),
]


@pytest.mark.parametrize(
    "profile", [case[1] for case in VALID_EDGE_CASES],
    ids=[case[0] for case in VALID_EDGE_CASES],
)
def test_valid_edge_profile(profile):
    result = screen(profile)
    assert result["ecm"]["status"] in eligibility.STATUSES


def test_validate_keeps_nulls_and_normalizes():
    clean = validate_profile({"age": 45.0, "unhoused": None})
    assert clean == {"age": 45, "unhoused": None}
    assert type(clean["age"]) is int


# --- Rule sets as data -----------------------------------------------------------


def _load_yaml(name: str) -> dict:
    return yaml.safe_load((RULE_SET_DIR / f"{name}.yml").read_text(encoding="utf-8"))


def _find_leaf(data, field):
    if isinstance(data, dict):
        if data.get("field") == field and "at_least" in data:
            return data
        values = data.values()
    elif isinstance(data, list):
        values = data
    else:
        return None
    for value in values:
        found = _find_leaf(value, field)
        if found is not None:
            return found
    return None


def test_threshold_is_data():
    data = _load_yaml(HPSM)
    leaf = _find_leaf(data["populations"], "avoidable_ed_visits_12mo")
    assert leaf["at_least"] == 6
    leaf["at_least"] = 4
    rule_set = parse_rule_set(data, source="edited")
    rule = [r for r in rule_set.populations if r.name == "high_utilization"][0]
    profile = {"age": 30, "avoidable_ed_visits_12mo": 4, "admissions_6mo": 0}
    assert rule.condition.evaluate(profile) is True


RULE_SET_ERROR_CASES = [
    ("unknown field", {"field": "homeless"}, "unknown profile field"),
    ("unknown code", {"field": "unhoused", "code": "housing"}, "unknown reason code"),
    ("number without compare", {"field": "age"}, "add at_least or below"),
    ("compare a boolean", {"field": "unhoused", "at_least": 1}, "not a number"),
    ("empty all", {"all": []}, "at least one part"),
    ("two operators", {"field": "age", "at_least": 1, "below": 4}, "at most one"),
    ("code reused", {"field": "sud_diagnosis", "code": "chronic_condition"},
     "two different conditions"),
]


@pytest.mark.parametrize(
    "condition, message",
    [case[1:] for case in RULE_SET_ERROR_CASES],
    ids=[case[0] for case in RULE_SET_ERROR_CASES],
)
def test_rule_set_errors(condition, message):
    data = _load_yaml(HPSM)
    data["populations"][0]["when"]["all"].append(condition)
    with pytest.raises(RuleSetError) as caught:
        parse_rule_set(data, source="broken.yml")
    assert message in str(caught.value)
    assert "broken.yml" in str(caught.value)


def test_question_order_must_cover_rules():
    data = _load_yaml(DHCS)
    data["question_order"].remove("cannot_self_manage")
    with pytest.raises(RuleSetError) as caught:
        parse_rule_set(data, source="dhcs.yml")
    assert "cannot_self_manage" in str(caught.value)


# --- Kleene logic ----------------------------------------------------------------

KLEENE_CASES = [
    # (a, b, a AND b, a OR b)
    (True, True, True, True),
    (True, False, False, True),
    (True, None, None, True),
    (False, False, False, False),
    (False, None, False, None),
    (None, None, None, None),
]


@pytest.mark.parametrize("left, right, conjunction, disjunction", KLEENE_CASES)
def test_kleene_tables(left, right, conjunction, disjunction):
    profile = {"unhoused": left, "housing_insecure": right}
    parts = (Leaf("unhoused"), Leaf("housing_insecure"))
    assert AllOf(parts).evaluate(profile) is conjunction
    assert AnyOf(parts).evaluate(profile) is disjunction
    swapped = {"unhoused": right, "housing_insecure": left}
    assert AllOf(parts).evaluate(swapped) is conjunction
    assert AnyOf(parts).evaluate(swapped) is disjunction


def test_kleene_not_and_compare():
    assert Not(Leaf("unhoused")).evaluate({"unhoused": None}) is None
    assert Not(Leaf("unhoused")).evaluate({"unhoused": False}) is True
    at_least = Leaf("admissions_6mo", "at_least", 3)
    assert at_least.evaluate({}) is None
    assert at_least.evaluate({"admissions_6mo": 0}) is False
    assert at_least.evaluate({"admissions_6mo": 3}) is True


def test_explain_picks_deciding_parts():
    condition = AllOf(
        (Leaf("age", "at_least", 21, code="adult"),
         Leaf("chronic_condition", code="chronic_condition"))
    )
    failed = explain(condition, {"age": 12, "chronic_condition": None})
    assert [(node.code, value) for node, value in failed] == [("adult", False)]
    unknown = explain(condition, {"age": 30})
    assert [(node.code, value) for node, value in unknown] == [
        ("chronic_condition", None)
    ]
