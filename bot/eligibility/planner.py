"""The question planner: which profile field to ask about next.

A field is worth asking only while its answer can still change a status in
scope. The planner checks this for some way of answering the other open
questions, not only for the answers given so far: a field matters if there is
any completion of the open fields in which two answers to it give different
statuses. Answers the member gave as "not sure" (`None`) stay unknown for good.

Questions come in the rule set's `question_order`. Fields that matter to a
Community Supports service only because they could make ECM likely (which
stands in for a care manager) come after every field that matters directly.
"""

from __future__ import annotations

from itertools import combinations
from typing import Iterable, Mapping

from bot.eligibility.logic import ReachAnalysis
from bot.eligibility.outcomes import (
    ECM,
    ECM_LIKELY,
    PLAN_ANSWERS,
    PLAN_FIELD,
    Component,
    Target,
    targets_for,
)
from bot.eligibility.profile import validate_profile
from bot.eligibility.rules import SERVICES, get_rule_set

SCOPE_ITEMS = (ECM,) + SERVICES
_PLAN_TOGGLES = frozenset(frozenset(pair) for pair in combinations(PLAN_ANSWERS, 2))
_ECM_LIKELY_TOGGLE = frozenset({frozenset({True, False})})


def normalize_scope(scope: Iterable[str] | str | None) -> tuple[str, ...]:
    """Return the scope items in contract order; empty or `None` means all.

    Raises:
        ValueError: for an item that is neither "ecm" nor a service key.
    """
    if isinstance(scope, str):
        scope = [scope]
    items = set(scope or ())
    unknown = sorted(items - set(SCOPE_ITEMS))
    if unknown:
        raise ValueError(
            f"unknown scope item {unknown[0]!r}; use 'ecm' or one of {SERVICES}"
        )
    # NOTE: an empty scope means everything, as None does, because callers
    # store "no service named" as an empty list.
    return tuple(item for item in SCOPE_ITEMS if item in items) or SCOPE_ITEMS


class _Planner:
    """Relevance checks for one profile and rule set."""

    def __init__(self, profile: Mapping, rule_set_name: str):
        self.profile = profile
        self.analysis = ReachAnalysis(profile)
        self.targets = targets_for(rule_set_name)
        self._other_bits: dict[tuple[str, int], frozenset[int]] = {}
        self._affects: dict[tuple[str, str, bool], bool] = {}
        self._ecm_likely_reach: frozenset | None = None

    def component_reach(self, component: Component) -> frozenset:
        """Return the values the component can still take."""
        if component.kind == "plan":
            if PLAN_FIELD in self.profile:
                return frozenset({self.profile[PLAN_FIELD]})
            return frozenset(PLAN_ANSWERS)
        if component.kind == "ecm_likely":
            return self.ecm_likely_reach()
        return self.analysis.reach(component.node)

    def ecm_likely_reach(self) -> frozenset:
        if self._ecm_likely_reach is None:
            target = self.targets[ECM_LIKELY]
            every_bits = self._fold(target, skip=None)
            self._ecm_likely_reach = frozenset(
                target.status_of(bits) for bits in every_bits
            )
        return self._ecm_likely_reach

    def component_toggles(
        self, component: Component, field: str, through_ecm: bool
    ) -> frozenset:
        """Return the value pairs that a change of `field` can switch it between."""
        if component.kind == "plan":
            open_plan = field == PLAN_FIELD and PLAN_FIELD not in self.profile
            return _PLAN_TOGGLES if open_plan else frozenset()
        if component.kind == "ecm_likely":
            if through_ecm and self.affects(self.targets[ECM_LIKELY], field, False):
                return _ECM_LIKELY_TOGGLE
            return frozenset()
        return self.analysis.toggles(component.node, field)

    def _fold(self, target: Target, skip: int | None) -> frozenset[int]:
        """Return every OR of component bits reachable, leaving out one component."""
        reachable = frozenset({0})
        for index, component in enumerate(target.components):
            if index == skip:
                continue
            options = {
                component.bits_of(value) for value in self.component_reach(component)
            }
            reachable = frozenset(
                bits | extra for bits in reachable for extra in options
            )
        return reachable

    def other_bits(self, target: Target, index: int) -> frozenset[int]:
        key = (target.name, index)
        if key not in self._other_bits:
            self._other_bits[key] = self._fold(target, skip=index)
        return self._other_bits[key]

    def affects(self, target: Target, field: str, through_ecm: bool) -> bool:
        """Whether some answer to `field` can change the target's status."""
        key = (target.name, field, through_ecm)
        if key not in self._affects:
            self._affects[key] = self._compute_affects(target, field, through_ecm)
        return self._affects[key]

    def _compute_affects(self, target: Target, field: str, through_ecm: bool) -> bool:
        for index, component in enumerate(target.components):
            toggles = self.component_toggles(component, field, through_ecm)
            if not toggles:
                continue
            others = self.other_bits(target, index)
            for pair in toggles:
                first, second = (component.bits_of(value) for value in pair)
                if first == second:
                    continue
                for bits in others:
                    before = target.status_of(bits | first)
                    if before != target.status_of(bits | second):
                        return True
        return False

    def questions(self, scope: tuple[str, ...], order: Iterable[str]):
        """Yield the fields worth asking, direct ones first, each in `order`."""
        open_fields = [field for field in order if field not in self.profile]
        scoped = [self.targets[item] for item in scope]
        direct = []
        for field in open_fields:
            if any(self.affects(target, field, False) for target in scoped):
                direct.append(field)
                yield field
        for field in open_fields:
            if field in direct:
                continue
            if any(self.affects(target, field, True) for target in scoped):
                yield field


def _plan_questions(
    profile: Mapping, scope: Iterable[str] | str | None, rule_set: str | None
):
    clean = validate_profile(profile)
    rules = get_rule_set(rule_set)
    planner = _Planner(clean, rules.name)
    return planner.questions(normalize_scope(scope), rules.question_order)


def next_question(
    profile: Mapping,
    scope: Iterable[str] | None = None,
    rule_set: str | None = None,
) -> str | None:
    """Return the next profile field to ask about, or None when nothing can matter.

    Args:
        profile: the answers so far. A key set to `None` was asked and answered
            "not sure", so it is never asked again; a missing key was not asked.
        scope: "ecm" and/or Community Supports service keys; `None` or empty
            means all of them.
        rule_set: rule set name; `None` means `ELIGIBILITY_RULE_SET`, else the
            default.

    Returns:
        The first field, in the rule set's question order, whose answer can
        still change the status of something in scope.

    Raises:
        InvalidProfile: if the profile breaks the screening contract.
        ValueError: for an unknown scope item or rule set.
    """
    return next(iter(_plan_questions(profile, scope, rule_set)), None)


def open_questions(
    profile: Mapping,
    scope: Iterable[str] | None = None,
    rule_set: str | None = None,
) -> list[str]:
    """Return every field still worth asking, in the order they would be asked.

    The arguments are those of `next_question`, whose answer is the first item.
    Later items may drop out as answers come in.
    """
    return list(_plan_questions(profile, scope, rule_set))
