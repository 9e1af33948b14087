"""The screening engine: a member profile in, statuses and reasons out."""

from __future__ import annotations

import logging
from typing import Mapping

from bot.eligibility.logic import Kleene, explain
from bot.eligibility.outcomes import ECM, Target, targets_for
from bot.eligibility.profile import validate_profile
from bot.eligibility.reasons import ENGAGED_THROUGH_ECM_TEXT, make_reason
from bot.eligibility.rules import SERVICES, RuleSet, get_rule_set

logger = logging.getLogger(__name__)


def screen(profile: Mapping, rule_set: str | None = None) -> dict:
    """Screen a member profile for ECM and the seven Community Supports.

    Args:
        profile: field name to value, as in the screening contract. A missing
            field and `None` both mean unknown.
        rule_set: rule set name; `None` means the `ELIGIBILITY_RULE_SET`
            environment variable, else `hpsm-2022`.

    Returns:
        The contract's result: `rule_set`, `ecm` (status, route, populations,
        possible_populations, reasons) and `community_supports` (status and
        reasons per service). It is plain JSON-serialisable data.

    Raises:
        InvalidProfile: if the profile breaks the contract; `field` names the
            offending field.
        UnknownRuleSet: if the rule set name is not known.
    """
    clean = validate_profile(profile)
    rules = get_rule_set(rule_set)
    targets = targets_for(rules.name)

    ecm = _screen_ecm(clean, rules, targets[ECM])
    ecm_likely = ecm["status"] == "likely"
    services = {
        service: _screen_service(clean, rules, targets[service], ecm_likely)
        for service in SERVICES
    }
    # Field names and answers are health facts, so only the size is logged.
    logger.debug("Screened a profile of %d fields with %s", len(clean), rules.name)
    return {"rule_set": rules.name, "ecm": ecm, "community_supports": services}


def _status(target: Target, values: Mapping[str, Kleene]) -> str:
    bits = 0
    for component in target.components:
        bits |= component.bits_of(values[component.name])
    return target.status_of(bits)


class _Reasons:
    """An ordered list of reasons that keeps the first reason of each code."""

    def __init__(self) -> None:
        self.items: list[dict] = []
        self._codes: set[str] = set()

    def add(self, reason: dict) -> None:
        if reason["code"] not in self._codes:
            self._codes.add(reason["code"])
            self.items.append(reason)

    def add_explanation(self, condition, profile: Mapping) -> None:
        for node, value in explain(condition, profile):
            self.add(make_reason(node.code, value, node, profile))


def _ecm_result(
    status: str,
    route: str | None,
    reasons: list[dict],
    populations: list[str] | None = None,
    possible: list[str] | None = None,
) -> dict:
    return {
        "status": status,
        "route": route,
        "populations": populations or [],
        "possible_populations": possible or [],
        "reasons": reasons,
    }


def _screen_ecm(profile: Mapping, rules: RuleSet, target: Target) -> dict:
    values = {
        component.name: component.value(profile) for component in target.components
    }
    status = _status(target, values)

    # Gates 1 to 3 decide alone, so their result lists only the gate.
    # NOTE: an unknown plan passes gates 1 and 2, because the contract's order
    # of precedence has no step for it; staff confirm membership at hand-off.
    plan = profile.get("plan")
    if plan == "none":
        return _ecm_result(status, None, [make_reason("not_member", True)])
    if plan == "careadvantage":
        return _ecm_result(status, None, [make_reason("careadvantage_plan", True)])
    if values["kaiser_assigned"] is True:
        return _ecm_result(status, "kaiser", [make_reason("kaiser_assigned", True)])

    reasons = _Reasons()
    if values["hospice_or_pace"] is True:
        reasons.add(make_reason("hospice_or_pace", True))

    populations: list[str] = []
    possible: list[str] = []
    for rule in rules.populations:
        value = values[rule.name]
        if value is True and rule.best == "likely":
            populations.append(rule.name)
        elif value is not False:
            # NOTE: a true rule whose best is needs_review (long-term care) is
            # listed as possible, not as a population, since staff decide it.
            possible.append(rule.name)
        reasons.add(make_reason(rule.name, value))
        reasons.add_explanation(rule.condition, profile)

    for pointer in rules.pointers:
        if values[pointer.name] is True:
            possible.append(pointer.name)
            reasons.add(make_reason(pointer.name, True))

    route = None if status == "unlikely" else "hpsm"
    return _ecm_result(status, route, reasons.items, populations, possible)


def _screen_service(
    profile: Mapping, rules: RuleSet, target: Target, ecm_likely: bool
) -> dict:
    values = {
        component.name: component.value(profile, ecm_likely)
        for component in target.components
    }
    status = _status(target, values)

    if profile.get("plan") == "none":
        return {"status": status, "reasons": [make_reason("not_member", True)]}
    willing = values["willing_community_supports"]
    if willing is False:
        reason = make_reason("willing_community_supports", False)
        return {"status": status, "reasons": [reason]}

    # NOTE: an unknown plan caps the status at needs_review but has no reason
    # code of its own, because `not_member` is a gate code (met = true only).
    reasons = _Reasons()
    reasons.add(make_reason("willing_community_supports", willing))
    engaged = values["engaged_with_care_manager"]
    if ecm_likely and engaged is not True:
        reasons.add(
            make_reason(
                "engaged_with_care_manager", True, text=ENGAGED_THROUGH_ECM_TEXT
            )
        )
    else:
        reasons.add(make_reason("engaged_with_care_manager", engaged))

    # Explanations of several paths are merged, then listed in the order the
    # codes first appear in the service's rule, so a shared part comes first.
    paths = rules.services[target.name]
    rule_reasons = _Reasons()
    for path in paths:
        rule_reasons.add_explanation(path.condition, profile)
    code_order = [node.code for path in paths for node in path.condition.coded_nodes()]
    rule_reasons.items.sort(key=lambda reason: code_order.index(reason["code"]))
    for reason in rule_reasons.items:
        reasons.add(reason)
    return {"status": status, "reasons": reasons.items}
