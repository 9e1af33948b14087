"""Rule sets: loading and checking the YAML files in `rule_sets/`.

Each file contains one rule set: the ECM population rules, the staff-checked
pointer populations, the rule of each Community Supports service, and the
order in which the assistant asks questions. Thresholds and look-back windows
live in those files, so the plan can change them without a code change.

Condition syntax, one key per node plus an optional `code`:

    {all: [...]}                  Kleene AND
    {any: [...]}                  Kleene OR
    {not: {...}}                  Kleene NOT
    {field: NAME}                 a boolean field is true
    {field: NAME, at_least: N}    a number field is N or more
    {field: NAME, below: N}       a number field is under N

A number leaf may add `window` (words such as "the last 12 months") for the
reason text.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import yaml

from bot.eligibility.logic import AllOf, AnyOf, Leaf, Node, Not
from bot.eligibility.profile import FIELD_KINDS, NUMERIC_KINDS
from bot.eligibility.reasons import GATE_CODES, POINTER_CODES, REASON_TEXTS

logger = logging.getLogger(__name__)

RULE_SET_DIR = Path(__file__).resolve().parent / "rule_sets"
DEFAULT_RULE_SET = "hpsm-2022"
RULE_SET_ENV = "ELIGIBILITY_RULE_SET"
STATUSES = ("unlikely", "needs_review", "likely")
SERVICES: tuple[str, ...] = (
    "housing_transition_navigation",
    "housing_deposits",
    "housing_tenancy_sustaining",
    "assisted_living_transition",
    "community_transition_home",
    "home_modifications",
    "medically_tailored_meals",
)
# Fields that the engine's fixed gates read, so every question order needs them.
GATE_FIELDS = (
    "plan",
    "kaiser_assigned",
    "hospice_or_pace",
    "willing_community_supports",
    "engaged_with_care_manager",
)


def _rule_set_names() -> tuple[str, ...]:
    names = sorted(path.stem for path in RULE_SET_DIR.glob("*.yml"))
    if DEFAULT_RULE_SET in names:
        names.remove(DEFAULT_RULE_SET)
        names.insert(0, DEFAULT_RULE_SET)
    return tuple(names)


RULE_SETS: tuple[str, ...] = _rule_set_names()


class UnknownRuleSet(ValueError):
    """A rule set name that has no file in `rule_sets/`."""

    def __init__(self, name: str):
        self.name = name
        choices = ", ".join(RULE_SETS)
        super().__init__(f"unknown rule set '{name}'; choose one of: {choices}")


class RuleSetError(ValueError):
    """A rule set file that breaks the format described in this module."""


@dataclass(frozen=True)
class PopulationRule:
    """An ECM adult population of focus.

    `best` is the best status the rule can give on its own: `likely`, or
    `needs_review` for a rule that needs a clinical call (long-term care).
    """

    name: str
    best: str
    condition: Node


@dataclass(frozen=True)
class Pointer:
    """A population that staff check; it counts only when its condition is true."""

    name: str
    condition: Node


@dataclass(frozen=True)
class ServicePath:
    """One way to qualify for a service, and the best status it can give."""

    best: str
    condition: Node


@dataclass(frozen=True)
class RuleSet:
    """A parsed, checked rule set."""

    name: str
    summary: str
    populations: tuple[PopulationRule, ...]
    pointers: tuple[Pointer, ...]
    services: Mapping[str, tuple[ServicePath, ...]]
    question_order: tuple[str, ...]


def resolve_rule_set_name(name: str | None = None) -> str:
    """Return the rule set to use: `name`, else `ELIGIBILITY_RULE_SET`, else default.

    Raises:
        UnknownRuleSet: if the chosen name has no rule set file.
    """
    chosen = name or os.environ.get(RULE_SET_ENV) or DEFAULT_RULE_SET
    if chosen not in RULE_SETS:
        raise UnknownRuleSet(chosen)
    return chosen


def get_rule_set(name: str | None = None) -> RuleSet:
    """Return the named rule set (resolved as in `resolve_rule_set_name`)."""
    return _load_rule_set(resolve_rule_set_name(name))


@lru_cache(maxsize=None)
def _load_rule_set(name: str) -> RuleSet:
    path = RULE_SET_DIR / f"{name}.yml"
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    rule_set = parse_rule_set(data, source=path.name)
    if rule_set.name != name:
        raise RuleSetError(f"{path.name}: name '{rule_set.name}' must be '{name}'")
    logger.debug("Loaded rule set %s from %s", name, path)
    return rule_set


def parse_rule_set(data: Any, source: str = "<rule set>") -> RuleSet:
    """Build a RuleSet from decoded YAML and check it.

    Raises:
        RuleSetError: naming the file and the place of the first problem.
    """
    parser = _Parser(source)
    return parser.rule_set(data)


class _Parser:
    def __init__(self, source: str):
        self.source = source
        self.shapes: dict[str, tuple] = {}

    def fail(self, where: str, message: str) -> RuleSetError:
        return RuleSetError(f"{self.source}: {where}: {message}")

    def rule_set(self, data: Any) -> RuleSet:
        if not isinstance(data, dict):
            raise self.fail("top level", "must be a mapping")
        expected = {
            "name",
            "summary",
            "populations",
            "pointers",
            "community_supports",
            "question_order",
        }
        # `shared` contains only YAML anchors that the rules reuse.
        if not expected <= set(data) <= expected | {"shared"}:
            raise self.fail(
                "top level", f"keys must be {sorted(expected)} and optionally shared"
            )

        for key in ("populations", "pointers", "question_order"):
            if not isinstance(data[key], list):
                raise self.fail(key, "must be a list")

        populations = tuple(
            self.population(item, f"populations[{index}]")
            for index, item in enumerate(data["populations"])
        )
        pointers = tuple(
            self.pointer(item, f"pointers[{index}]")
            for index, item in enumerate(data["pointers"])
        )
        services = self.services(data["community_supports"])
        rule_set = RuleSet(
            name=str(data["name"]),
            summary=str(data["summary"]).strip(),
            populations=populations,
            pointers=pointers,
            services=services,
            question_order=tuple(data["question_order"]),
        )
        self.check_question_order(rule_set)
        return rule_set

    def population(self, item: Any, where: str) -> PopulationRule:
        if not isinstance(item, dict) or set(item) != {"name", "best", "when"}:
            raise self.fail(where, "must have exactly name, best and when")
        name = item["name"]
        if name not in REASON_TEXTS or name in GATE_CODES | POINTER_CODES:
            raise self.fail(where, f"'{name}' is not a population reason code")
        if item["best"] not in ("likely", "needs_review"):
            raise self.fail(where, "best must be likely or needs_review")
        condition = self.node(item["when"], f"{where}.when")
        if condition.code:
            raise self.fail(where, "the rule's name is its code; drop `code`")
        return PopulationRule(name, item["best"], condition)

    def pointer(self, item: Any, where: str) -> Pointer:
        if not isinstance(item, dict) or set(item) != {"name", "when"}:
            raise self.fail(where, "must have exactly name and when")
        if item["name"] not in POINTER_CODES:
            raise self.fail(where, f"'{item['name']}' is not a pointer code")
        condition = self.node(item["when"], f"{where}.when")
        if any(True for _ in condition.coded_nodes()):
            raise self.fail(where, "pointer conditions carry no codes")
        return Pointer(item["name"], condition)

    def services(self, data: Any) -> dict[str, tuple[ServicePath, ...]]:
        if not isinstance(data, dict) or tuple(data) != SERVICES:
            raise self.fail("community_supports", f"keys must be, in order, {SERVICES}")
        services = {}
        for service, item in data.items():
            where = f"community_supports.{service}"
            if not isinstance(item, dict) or set(item) != {"paths"}:
                raise self.fail(where, "must have a non-empty list `paths`")
            if not isinstance(item["paths"], list) or not item["paths"]:
                raise self.fail(where, "must have a non-empty list `paths`")
            paths = []
            for index, path in enumerate(item["paths"]):
                path_where = f"{where}.paths[{index}]"
                if not isinstance(path, dict) or set(path) != {"best", "when"}:
                    raise self.fail(path_where, "must have exactly best and when")
                if path["best"] not in ("likely", "needs_review"):
                    raise self.fail(path_where, "best must be likely or needs_review")
                paths.append(
                    ServicePath(path["best"], self.node(path["when"], path_where))
                )
            services[service] = tuple(paths)
        return services

    def node(self, data: Any, where: str) -> Node:
        if not isinstance(data, dict):
            raise self.fail(where, "a condition must be a mapping")
        code = data.get("code")
        if code is not None and (code not in REASON_TEXTS or code in GATE_CODES):
            raise self.fail(where, f"unknown reason code '{code}'")

        if "all" in data or "any" in data:
            key = "all" if "all" in data else "any"
            if set(data) - {key, "code"} or not isinstance(data[key], list):
                raise self.fail(where, f"`{key}` takes a list and an optional code")
            parts = tuple(
                self.node(part, f"{where}.{key}[{index}]")
                for index, part in enumerate(data[key])
            )
            if not parts:
                raise self.fail(where, f"`{key}` needs at least one part")
            node: Node = AllOf(parts, code) if key == "all" else AnyOf(parts, code)
        elif "not" in data:
            if set(data) - {"not", "code"}:
                raise self.fail(where, "`not` takes one condition and an optional code")
            node = Not(self.node(data["not"], f"{where}.not"), code)
        elif "field" in data:
            node = self.leaf(data, code, where)
        else:
            raise self.fail(where, "needs one of all, any, not or field")

        if code is not None:
            self.check_code_shape(code, node, where)
        return node

    def leaf(self, data: dict, code: str | None, where: str) -> Leaf:
        field = data["field"]
        if field not in FIELD_KINDS:
            raise self.fail(where, f"unknown profile field '{field}'")
        extra = set(data) - {"field", "code", "window"}
        comparisons = extra & {"at_least", "below"}
        if extra - comparisons or len(comparisons) > 1:
            raise self.fail(where, "a leaf takes at most one of at_least and below")

        kind = FIELD_KINDS[field]
        if not comparisons:
            if kind != "boolean":
                raise self.fail(
                    where, f"'{field}' is a number: add at_least or below"
                )
            if "window" in data:
                raise self.fail(where, "window belongs to a number comparison")
            return Leaf(field, "is_true", code=code)

        if kind not in NUMERIC_KINDS:
            raise self.fail(where, f"'{field}' is not a number field")
        operator = comparisons.pop()
        threshold = data[operator]
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
            raise self.fail(where, f"{operator} must be a number")
        return Leaf(field, operator, threshold, data.get("window"), code)

    def check_code_shape(self, code: str, node: Node, where: str) -> None:
        # Reasons are listed once per code, so one code must always name the
        # same condition within a rule set.
        shape = node.shape()
        previous = self.shapes.setdefault(code, shape)
        if previous != shape:
            raise self.fail(where, f"code '{code}' names two different conditions")

    def check_question_order(self, rule_set: RuleSet) -> None:
        order = rule_set.question_order
        unknown = [field for field in order if field not in FIELD_KINDS]
        if unknown:
            raise self.fail("question_order", f"unknown fields {unknown}")
        if len(set(order)) != len(order):
            raise self.fail("question_order", "lists a field twice")

        used = set(GATE_FIELDS)
        conditions = [rule.condition for rule in rule_set.populations]
        conditions += [pointer.condition for pointer in rule_set.pointers]
        for paths in rule_set.services.values():
            conditions += [path.condition for path in paths]
        for condition in conditions:
            used.update(condition.fields())
        missing = sorted(used - set(order))
        if missing:
            raise self.fail(
                "question_order", f"misses fields the rules read: {missing}"
            )
