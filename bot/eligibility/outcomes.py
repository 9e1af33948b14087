"""How a status follows from the parts of a screening, shared by engine and planner.

Each status in a result (ECM, and each Community Supports service) is a
*target*. A target has *components*: the plan answer, the gate fields, each
population rule, pointer or service path. A component's truth value sets some
feature bits, and the target's status is a function of the bits ORed together.

The engine evaluates the components of one profile. The question planner asks
instead which bit patterns are still reachable while fields are unanswered.
Both go through the same status functions, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Mapping

from bot.eligibility.logic import Leaf, Node
from bot.eligibility.rules import RuleSet, get_rule_set

STATUS_RANK = {"unlikely": 0, "needs_review": 1, "likely": 2}
ECM = "ecm"
ECM_LIKELY = "ecm_likely"
PLAN_FIELD = "plan"
PLAN_ANSWERS = ("medi-cal", "careadvantage", "none", None)

# ECM feature bits, checked in the contract's order of precedence.
ECM_EXCLUDED_PLAN = 1
ECM_KAISER = 2
ECM_HOSPICE = 4
ECM_RULE_MET = 8
ECM_RULE_UNKNOWN = 16
ECM_POSSIBLE = 32

# Community Supports feature bits.
CS_PLAN_NONE = 1
CS_PLAN_UNKNOWN = 2
CS_NOT_WILLING = 4
CS_WILLING_UNKNOWN = 8
CS_CARE_MANAGER = 16
CS_PATH_LIKELY = 32
CS_PATH_REVIEW = 64

KAISER_LEAF = Leaf("kaiser_assigned", code="kaiser_assigned")
HOSPICE_LEAF = Leaf("hospice_or_pace", code="hospice_or_pace")
WILLING_LEAF = Leaf("willing_community_supports", code="willing_community_supports")
ENGAGED_LEAF = Leaf("engaged_with_care_manager", code="engaged_with_care_manager")


@dataclass(frozen=True)
class Component:
    """One input of a target's status.

    `kind` is `expression` (a condition tree in `node`), `plan` (the plan
    answer itself) or `ecm_likely` (whether ECM is likely, which Community
    Supports accepts in place of a care manager). `bits` maps each value of
    the component to the feature bits it sets.
    """

    name: str
    kind: str
    bits: Mapping[Any, int]
    node: Node | None = None

    def value(self, profile: Mapping, ecm_likely: bool | None = None) -> Any:
        """Return the component's value for a validated profile."""
        if self.kind == "plan":
            return profile.get(PLAN_FIELD)
        if self.kind == "ecm_likely":
            return ecm_likely
        return self.node.evaluate(profile)

    def bits_of(self, value: Any) -> int:
        return self.bits.get(value, 0)


@dataclass(frozen=True)
class Target:
    """A status in the result, as a function of its components' feature bits."""

    name: str
    components: tuple[Component, ...]
    status_of: Callable[[int], Any]


def ecm_status(bits: int) -> str:
    """Return the ECM status for a set of ECM feature bits (first match wins)."""
    if bits & ECM_EXCLUDED_PLAN:
        return "unlikely"
    if bits & (ECM_KAISER | ECM_HOSPICE):
        return "needs_review"
    if bits & ECM_RULE_MET:
        return "likely"
    if bits & (ECM_RULE_UNKNOWN | ECM_POSSIBLE):
        return "needs_review"
    return "unlikely"


def ecm_is_likely(bits: int) -> bool:
    return ecm_status(bits) == "likely"


def service_status(bits: int) -> str:
    """Return a Community Supports service status for its feature bits."""
    if bits & (CS_PLAN_NONE | CS_NOT_WILLING):
        return "unlikely"

    if bits & CS_PATH_LIKELY:
        best = "likely"
    elif bits & CS_PATH_REVIEW:
        best = "needs_review"
    else:
        best = "unlikely"

    # Basic qualifications: a known plan, a known wish to get the services, and
    # a care manager (or likely ECM, which brings one). Without them the best
    # status is needs_review, because Care Coordination can settle each one.
    qualified = (
        not bits & (CS_PLAN_UNKNOWN | CS_WILLING_UNKNOWN)
        and bits & CS_CARE_MANAGER
    )
    cap = "likely" if qualified else "needs_review"
    return min(best, cap, key=STATUS_RANK.__getitem__)


def _ecm_components(rule_set: RuleSet) -> tuple[Component, ...]:
    excluded = {"none": ECM_EXCLUDED_PLAN, "careadvantage": ECM_EXCLUDED_PLAN}
    components = [
        Component(PLAN_FIELD, "plan", excluded),
        Component("kaiser_assigned", "expression", {True: ECM_KAISER}, KAISER_LEAF),
        Component("hospice_or_pace", "expression", {True: ECM_HOSPICE}, HOSPICE_LEAF),
    ]
    for rule in rule_set.populations:
        met = ECM_RULE_MET if rule.best == "likely" else ECM_POSSIBLE
        bits = {True: met, None: ECM_RULE_UNKNOWN}
        components.append(Component(rule.name, "expression", bits, rule.condition))
    for pointer in rule_set.pointers:
        bits = {True: ECM_POSSIBLE}
        components.append(
            Component(pointer.name, "expression", bits, pointer.condition)
        )
    return tuple(components)


def _service_components(rule_set: RuleSet, service: str) -> tuple[Component, ...]:
    components = [
        Component(
            PLAN_FIELD, "plan", {"none": CS_PLAN_NONE, None: CS_PLAN_UNKNOWN}
        ),
        Component(
            "willing_community_supports",
            "expression",
            {False: CS_NOT_WILLING, None: CS_WILLING_UNKNOWN},
            WILLING_LEAF,
        ),
        Component(
            "engaged_with_care_manager",
            "expression",
            {True: CS_CARE_MANAGER},
            ENGAGED_LEAF,
        ),
        Component(ECM_LIKELY, "ecm_likely", {True: CS_CARE_MANAGER}),
    ]
    for index, path in enumerate(rule_set.services[service]):
        met = CS_PATH_LIKELY if path.best == "likely" else CS_PATH_REVIEW
        bits = {True: met, None: CS_PATH_REVIEW}
        components.append(
            Component(f"{service}.paths[{index}]", "expression", bits, path.condition)
        )
    return tuple(components)


@lru_cache(maxsize=None)
def targets_for(rule_set_name: str) -> dict[str, Target]:
    """Return every target of a rule set: ECM, ECM-likely and each service."""
    rule_set = get_rule_set(rule_set_name)
    ecm_components = _ecm_components(rule_set)
    targets = {
        ECM: Target(ECM, ecm_components, ecm_status),
        ECM_LIKELY: Target(ECM_LIKELY, ecm_components, ecm_is_likely),
    }
    for service in rule_set.services:
        targets[service] = Target(
            service, _service_components(rule_set, service), service_status
        )
    return targets
