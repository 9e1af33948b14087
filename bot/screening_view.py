"""Choose the responses that present a screening result to a member.

The assistant never shows the engine's English reason text: each reason is
one domain response per code and outcome, so it can be translated like every
other message.
"""

from __future__ import annotations

from typing import Iterable

SERVICES = (
    "housing_transition_navigation",
    "housing_deposits",
    "housing_tenancy_sustaining",
    "assisted_living_transition",
    "community_transition_home",
    "home_modifications",
    "medically_tailored_meals",
)
# Reason codes worth telling a member about; leaf details stay with staff.
SHOWN_ECM_CODES = (
    "kaiser_assigned",
    "hospice_or_pace",
    "whole_person_care",
    "careadvantage_plan",
    "adult",
    "homelessness",
    "high_utilization",
    "mental_health",
    "substance_use",
    "long_term_care",
    "justice_involved",
    "children_youth",
    "birth_equity",
    "nursing_facility_transition",
)
# Basic Community Supports conditions that every service shares; a service's
# own conditions explain its status better, so these are shown only when they
# decide it.
GENERIC_SERVICE_CODES = frozenset(
    {"willing_community_supports", "engaged_with_care_manager"}
)
MAX_ECM_REASONS = 3
MAX_SERVICE_REASONS = 1
_OUTCOME = {True: "met", False: "not_met", None: "unknown"}
# The reasons that explain each status best come first.
_ORDER_BY_STATUS = {
    "likely": {True: 0, None: 1, False: 2},
    "unlikely": {False: 0, None: 1, True: 2},
    "needs_review": {None: 0, False: 1, True: 2},
}
_INTERESTED = ("likely", "needs_review")


def reason_response(reason: dict) -> str:
    """Return the response name for one reason, e.g. `utter_reason_ed_visits_met`."""
    return f"utter_reason_{reason['code']}_{_OUTCOME[reason.get('met')]}"


def reason_responses(
    reasons: Iterable[dict],
    allowed: Iterable[str] | None,
    limit: int,
    status: str = "likely",
    generic: frozenset[str] = frozenset(),
) -> list[str]:
    """Pick up to `limit` reasons that explain `status`, most telling first.

    Reasons whose code is in `generic` go after the others with the same
    outcome.
    """
    allowed_codes = set(allowed) if allowed is not None else None
    order = _ORDER_BY_STATUS.get(status, _ORDER_BY_STATUS["likely"])
    chosen = [
        reason
        for reason in reasons
        if allowed_codes is None or reason["code"] in allowed_codes
    ]
    chosen.sort(
        key=lambda reason: (order[reason.get("met")], reason["code"] in generic)
    )
    return [reason_response(reason) for reason in chosen[:limit]]


def _in_scope(scope: Iterable[str] | None) -> tuple[bool, list[str]]:
    if not scope:
        return True, list(SERVICES)
    scope = list(scope)
    return "ecm" in scope, [service for service in SERVICES if service in scope]


def result_responses(result: dict, scope: Iterable[str] | None) -> list[str]:
    """Return the responses, in order, that present `result` for `scope`."""
    ecm = result["ecm"]
    if any(reason["code"] == "not_member" for reason in ecm["reasons"]):
        return ["utter_result_not_member"]

    show_ecm, services = _in_scope(scope)
    whole_screening = not scope
    responses = ["utter_result_intro"]
    if show_ecm:
        reasons = ecm["reasons"]
        if ecm.get("route") == "kaiser":
            responses.append("utter_result_ecm_kaiser")
            # That response already gives the reason; a reason line would repeat it.
            reasons = [r for r in reasons if r["code"] != "kaiser_assigned"]
        else:
            responses.append(f"utter_result_ecm_{ecm['status']}")
        responses += reason_responses(
            reasons, SHOWN_ECM_CODES, MAX_ECM_REASONS, ecm["status"]
        )

    for service in services:
        outcome = result["community_supports"][service]
        # A whole screening names only the services the member may get, so the
        # reply stays short; a screening for named services covers each of them.
        if whole_screening and outcome["status"] not in _INTERESTED:
            continue
        responses.append(f"utter_result_cs_{service}_{outcome['status']}")
        if whole_screening:
            # One line per service keeps a full result within a few SMS; staff
            # explain the details on the call.
            continue
        responses += reason_responses(
            outcome["reasons"],
            None,
            MAX_SERVICE_REASONS,
            outcome["status"],
            GENERIC_SERVICE_CODES,
        )

    responses += ["utter_result_disclaimer", "utter_offer_handoff"]
    return responses


def services_of_interest(result: dict, scope: Iterable[str] | None) -> list[str]:
    """Return ECM and the services in scope that are `likely` or `needs_review`."""
    show_ecm, services = _in_scope(scope)
    chosen = []
    if show_ecm and result["ecm"]["status"] in _INTERESTED:
        chosen.append("ecm")
    for service in services:
        if result["community_supports"][service]["status"] in _INTERESTED:
            chosen.append(service)
    return chosen
