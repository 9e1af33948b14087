"""Reason codes and their plain-English text for the command line and the API.

The assistant does not show this text: it renders one domain response per code
and outcome, so the codes here must match the reason code table in the design
notes. Text placeholders are filled from the condition that produced the
reason: `{value}` is the member's answer, `{threshold}` and `{window}` come
from the rule set.
"""

from __future__ import annotations

from typing import Mapping

from bot.eligibility.logic import Kleene, Leaf, Node
from bot.eligibility.profile import FIELD_KINDS

# Codes that only ever appear with met = true. Each names a gate or a
# staff-checked population that applies, and is left out when it does not.
GATE_CODES = frozenset(
    {"not_member", "careadvantage_plan", "kaiser_assigned", "hospice_or_pace"}
)
POINTER_CODES = frozenset(
    {
        "whole_person_care",
        "justice_involved",
        "children_youth",
        "birth_equity",
        "nursing_facility_transition",
    }
)

REASON_TEXTS: dict[str, dict[Kleene, str]] = {
    "not_member": {
        True: "You are not an HPSM member, so these services are not open to you."
    },
    "careadvantage_plan": {
        True: "ECM is a Medi-Cal benefit. CareAdvantage members do not get it "
        "through HPSM."
    },
    "kaiser_assigned": {
        True: "Your doctor is at Kaiser, so Kaiser handles your ECM.",
    },
    "hospice_or_pace": {
        True: "You are in hospice or PACE. Staff must check if ECM can be added.",
    },
    "whole_person_care": {
        True: "You were in Whole Person Care at the end of 2021. Staff will check "
        "your ECM.",
    },
    "adult": {
        True: "You are {threshold} or older.",
        False: "You are under {threshold}. This rule is for adults.",
        None: "We do not know your age.",
    },
    "homelessness": {
        True: "You meet the rule for adults without stable housing.",
        False: "You do not meet the rule for adults without stable housing.",
        None: "We need more answers to check the rule for adults without stable "
        "housing.",
    },
    "high_utilization": {
        True: "You meet the rule for adults who often need the hospital or "
        "emergency room.",
        False: "You do not meet the rule for adults who often need the hospital "
        "or emergency room.",
        None: "We need more answers to check the rule for adults who often need "
        "the hospital or emergency room.",
    },
    "mental_health": {
        True: "You meet the rule for adults with serious mental health needs.",
        False: "You do not meet the rule for adults with serious mental health "
        "needs.",
        None: "We need more answers to check the rule for adults with serious "
        "mental health needs.",
    },
    "substance_use": {
        True: "You meet the rule for adults with a substance use disorder.",
        False: "You do not meet the rule for adults with a substance use "
        "disorder.",
        None: "We need more answers to check the rule for adults with a "
        "substance use disorder.",
    },
    "long_term_care": {
        True: "You may be at risk of needing long-term care. A nurse or care "
        "manager must check this.",
        False: "You are not at risk of needing long-term care.",
        None: "We do not know if you are at risk of needing long-term care.",
    },
    "housing_situation": {
        True: "You are homeless or at risk of losing your housing.",
        False: "You have a stable place to live.",
        None: "We do not know if you have a stable place to live.",
    },
    "chronic_condition": {
        True: "You have a long-term health condition that care management can "
        "help.",
        False: "You do not have a long-term health condition that needs care "
        "management.",
        None: "We do not know if you have a long-term health condition.",
    },
    "cannot_self_manage": {
        True: "You cannot manage that health condition on your own.",
        False: "You can manage that health condition on your own.",
        None: "We do not know if you can manage that health condition on your "
        "own.",
    },
    "ed_visits": {
        True: "You had {value} avoidable emergency room visits in {window}. The "
        "rule needs {threshold} or more.",
        False: "You had {value} avoidable emergency room visits in {window}. The "
        "rule needs {threshold} or more.",
        None: "We do not know how many avoidable emergency room visits you had "
        "in {window}.",
    },
    "admissions": {
        True: "You had {value} unplanned hospital or nursing facility stays in "
        "{window}. The rule needs {threshold} or more.",
        False: "You had {value} unplanned hospital or nursing facility stays in "
        "{window}. The rule needs {threshold} or more.",
        None: "We do not know how many unplanned hospital or nursing facility "
        "stays you had in {window}.",
    },
    "mental_health_diagnosis": {
        True: "You have a diagnosed serious mental health condition.",
        False: "You do not have a diagnosed serious mental health condition.",
        None: "We do not know if you have a diagnosed serious mental health "
        "condition.",
    },
    "sud_diagnosis": {
        True: "You have a diagnosed substance use disorder.",
        False: "You do not have a diagnosed substance use disorder.",
        None: "We do not know if you have a diagnosed substance use disorder.",
    },
    "complex_social_risk": {
        True: "Something in your life makes your health harder to manage.",
        False: "You have no social risk that makes your health harder to manage.",
        None: "We do not know if something in your life makes your health harder "
        "to manage.",
    },
    "risk_factor": {
        True: "You have at least one of the extra risks this rule asks for.",
        False: "You have none of the extra risks this rule asks for.",
        None: "We do not know if you have one of the extra risks this rule asks "
        "for.",
    },
    "justice_involved": {
        True: "You left jail or prison in the last 12 months. Staff will check "
        "the program for people coming home.",
    },
    "children_youth": {
        True: "You are under 21 and have a sign of need. Staff will check the "
        "program for children and youth.",
    },
    "birth_equity": {
        True: "You are pregnant or had a baby in the last year. Staff will check "
        "the Birth Equity program.",
    },
    "nursing_facility_transition": {
        True: "You live in a facility and want to move out. Staff will check the "
        "program for this move.",
    },
    "willing_community_supports": {
        True: "You want Community Supports.",
        False: "You do not want Community Supports now. They are always your "
        "choice.",
        None: "We do not know if you want Community Supports.",
    },
    "engaged_with_care_manager": {
        True: "You work with a care manager.",
        False: "You do not have a care manager yet. Care Coordination can connect "
        "you with one.",
        None: "We do not know if you work with a care manager.",
    },
    "housing_need": {
        True: "Your housing and health needs fit this service.",
        False: "Your housing and health needs do not fit this service.",
        None: "We need more answers about your housing and health.",
    },
    "deposit_used_before": {
        True: "A housing deposit was paid for you before. Staff must check if "
        "you can get another one.",
        False: "No housing deposit was paid for you before.",
        None: "We do not know if a housing deposit was paid for you before.",
    },
    "facility_days": {
        True: "You have lived in a facility for {value} days. The rule needs "
        "{threshold} or more.",
        False: "You have lived in a facility for {value} days. The rule needs "
        "{threshold} or more.",
        None: "We do not know how long you have lived in a facility.",
    },
    "wants_assisted_living": {
        True: "You want to live in assisted living.",
        False: "You do not want to live in assisted living.",
        None: "We do not know if you want to live in assisted living.",
    },
    "needs_facility_level_care": {
        True: "You may need nursing facility care. A nurse must check this.",
        False: "You do not need nursing facility care.",
        None: "We do not know if you need nursing facility care.",
    },
    "safe_in_community": {
        True: "You can live safely outside a facility with support.",
        False: "You cannot live safely outside a facility, even with support.",
        None: "We do not know if you can live safely outside a facility.",
    },
    "wants_to_move_home": {
        True: "You want to move from the facility to a home.",
        False: "You do not want to move from the facility to a home.",
        None: "We do not know if you want to move to a home.",
    },
    "home_modification_needed": {
        True: "You need a change to your home to stay safe. Staff must visit your "
        "home first.",
        False: "You do not need a change to your home.",
        None: "We do not know if you need a change to your home.",
    },
    "home_modification_limit": {
        True: "{value} has been spent on home changes for you. The lifetime limit "
        "is {threshold}.",
        False: "{value} has been spent on home changes for you, which reaches "
        "the {threshold} lifetime limit. Staff can check for an exception after "
        "a move or a big change in your health.",
        None: "We do not know how much has been spent on home changes for you.",
    },
    "nutrition_condition": {
        True: "You have a health condition that special meals can help.",
        False: "You do not have a health condition that special meals help.",
        None: "We do not know if you have a health condition that special meals "
        "can help.",
    },
    "recent_discharge_or_high_risk": {
        True: "You left a hospital or nursing facility recently, or are at high "
        "risk of going in.",
        False: "You have not left a hospital or facility recently. Staff will "
        "check if meals can still help.",
        None: "We do not know if you left a hospital or facility recently.",
    },
}

# Text of a reason whose code is met in a way other than its own field.
ENGAGED_THROUGH_ECM_TEXT = (
    "You may qualify for ECM, which gives you a care manager."
)


def format_value(field: str, value: float | int) -> str:
    """Format a number for reason text: dollars for money, plain otherwise."""
    if FIELD_KINDS.get(field) == "money":
        if float(value).is_integer():
            return f"${int(value):,}"
        return f"${value:,.2f}"
    if float(value).is_integer():
        return str(int(value))
    return str(value)


def make_reason(
    code: str,
    met: Kleene,
    node: Node | None = None,
    profile: Mapping | None = None,
    text: str | None = None,
) -> dict:
    """Build one reason dict: `code`, `met` and `text`.

    Args:
        code: a key of REASON_TEXTS.
        met: the condition's truth value.
        node: the condition, when its thresholds and answer fill the text.
        profile: the validated profile, for the member's answer.
        text: text to use in place of the code's own.

    Raises:
        KeyError: for a code with no text for `met`, such as a gate code with
            met = false.
    """
    if text is None:
        template = REASON_TEXTS[code][met]
        text = template.format(**_placeholders(node, profile or {}))
    return {"code": code, "met": met, "text": text}


def _placeholders(node: Node | None, profile: Mapping) -> dict[str, str]:
    if not isinstance(node, Leaf):
        return {}
    values = {"window": node.window or ""}
    if node.threshold is not None:
        values["threshold"] = format_value(node.field, node.threshold)
    answer = profile.get(node.field)
    if answer is not None and not isinstance(answer, bool):
        values["value"] = format_value(node.field, answer)
    return values
