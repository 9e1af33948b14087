"""Three-valued (Kleene) logic and the condition trees that rule sets are made of.

A truth value is `True`, `False` or `None` (unknown). `AND` is false when any
part is false, true when all parts are true, and unknown otherwise; `OR` is the
mirror image. A profile field that is missing or `None` makes its leaf unknown.

Besides evaluation, each node reports which values it can still reach while
some profile fields are unanswered, and which changes of value one unanswered
field can cause. The question planner uses both to skip questions whose answer
cannot matter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Mapping, Union

Kleene = Union[bool, None]
ANY_VALUE: frozenset = frozenset({True, False, None})
# Every unordered pair of two different truth values: the changes an unanswered
# field can make to its own leaf.
ALL_TOGGLES: frozenset = frozenset(
    {frozenset({True, False}), frozenset({True, None}), frozenset({False, None})}
)


def kleene_and(left: Kleene, right: Kleene) -> Kleene:
    """Return `left AND right` in Kleene logic."""
    if left is False or right is False:
        return False
    if left is True and right is True:
        return True
    return None


def kleene_or(left: Kleene, right: Kleene) -> Kleene:
    """Return `left OR right` in Kleene logic."""
    if left is True or right is True:
        return True
    if left is False and right is False:
        return False
    return None


def kleene_not(value: Kleene) -> Kleene:
    """Return `NOT value` in Kleene logic (unknown stays unknown)."""
    return None if value is None else not value


def combine_reach(sets: Iterable[frozenset], operator) -> frozenset:
    """Return every value `operator` can give over one value from each set."""
    result = frozenset({True if operator is kleene_and else False})
    for values in sets:
        result = frozenset(operator(a, b) for a in result for b in values)
    return result


class Node:
    """Base class of a condition tree node; `code` names it in reasons."""

    code: str | None

    def children(self) -> tuple["Node", ...]:
        return ()

    def evaluate(self, profile: Mapping) -> Kleene:
        """Return the node's truth value for a validated profile."""
        raise NotImplementedError

    def fields(self) -> Iterator[str]:
        """Yield the profile fields the node reads, with repeats."""
        for child in self.children():
            yield from child.fields()

    def coded_nodes(self) -> Iterator["Node"]:
        """Yield this node and its descendants that carry a reason code."""
        if self.code:
            yield self
        for child in self.children():
            yield from child.coded_nodes()

    def shape(self) -> tuple:
        """Return a hashable description, equal for structurally equal trees."""
        raise NotImplementedError


@dataclass(eq=False, frozen=True)
class Leaf(Node):
    """A test on one profile field.

    `operator` is `is_true` for a boolean field, `at_least` for `value >=
    threshold` and `below` for `value < threshold`. `window` is the look-back
    period in words (such as "the last 12 months"), used only in reason text.
    """

    field: str
    operator: str = "is_true"
    threshold: float | None = None
    window: str | None = None
    code: str | None = None

    def evaluate(self, profile: Mapping) -> Kleene:
        value = profile.get(self.field)
        if value is None:
            return None
        if self.operator == "is_true":
            return bool(value)
        if self.operator == "at_least":
            return value >= self.threshold
        return value < self.threshold

    def fields(self) -> Iterator[str]:
        yield self.field

    def shape(self) -> tuple:
        return ("leaf", self.field, self.operator, self.threshold, self.window)


@dataclass(eq=False, frozen=True)
class AllOf(Node):
    """Kleene AND of its parts."""

    parts: tuple[Node, ...]
    code: str | None = None

    def children(self) -> tuple[Node, ...]:
        return self.parts

    def evaluate(self, profile: Mapping) -> Kleene:
        result: Kleene = True
        for part in self.parts:
            result = kleene_and(result, part.evaluate(profile))
        return result

    def shape(self) -> tuple:
        return ("all", self.code, tuple(part.shape() for part in self.parts))


@dataclass(eq=False, frozen=True)
class AnyOf(Node):
    """Kleene OR of its parts."""

    parts: tuple[Node, ...]
    code: str | None = None

    def children(self) -> tuple[Node, ...]:
        return self.parts

    def evaluate(self, profile: Mapping) -> Kleene:
        result: Kleene = False
        for part in self.parts:
            result = kleene_or(result, part.evaluate(profile))
        return result

    def shape(self) -> tuple:
        return ("any", self.code, tuple(part.shape() for part in self.parts))


@dataclass(eq=False, frozen=True)
class Not(Node):
    """Kleene NOT of one part."""

    part: Node
    code: str | None = None

    def children(self) -> tuple[Node, ...]:
        return (self.part,)

    def evaluate(self, profile: Mapping) -> Kleene:
        return kleene_not(self.part.evaluate(profile))

    def shape(self) -> tuple:
        return ("not", self.code, self.part.shape())


def explain(node: Node, profile: Mapping) -> list[tuple[Node, Kleene]]:
    """List the coded nodes that explain the node's value, in tree order.

    A true AND is explained by all its parts, a false AND by its false parts and
    an unknown AND by its unknown parts; OR mirrors this. So a rule that fails
    on age lists the age reason and not the questions that no longer matter.
    """
    value = node.evaluate(profile)
    found: list[tuple[Node, Kleene]] = []
    if node.code:
        found.append((node, value))

    if isinstance(node, Not):
        found.extend(explain(node.part, profile))
        return found
    for part in node.children():
        part_value = part.evaluate(profile)
        if isinstance(node, AllOf):
            listed = value is True or part_value is value
        else:
            listed = value is False or part_value is value
        if listed:
            found.extend(explain(part, profile))
    return found


class ReachAnalysis:
    """Values and value changes still possible while some fields are unanswered.

    A field absent from the profile is open: the member may still answer true,
    false, any number, or "not sure". A field present with `None` was answered
    "not sure" and stays unknown. Parts of a node are treated as independent,
    which can only overstate what is reachable, never understate it, so the
    planner may ask a question too many but never skips one that matters.
    """

    def __init__(self, profile: Mapping):
        self.profile = profile
        self._reach: dict[int, frozenset] = {}
        self._toggles: dict[tuple[int, str], frozenset] = {}

    def is_open(self, field: str) -> bool:
        return field not in self.profile

    def reach(self, node: Node) -> frozenset:
        """Return the set of values the node can still take."""
        key = id(node)
        if key not in self._reach:
            self._reach[key] = self._compute_reach(node)
        return self._reach[key]

    def _compute_reach(self, node: Node) -> frozenset:
        if isinstance(node, Leaf):
            if self.is_open(node.field):
                return ANY_VALUE
            return frozenset({node.evaluate(self.profile)})
        if isinstance(node, Not):
            return frozenset(kleene_not(value) for value in self.reach(node.part))
        operator = kleene_and if isinstance(node, AllOf) else kleene_or
        return combine_reach((self.reach(part) for part in node.children()), operator)

    def toggles(self, node: Node, field: str) -> frozenset:
        """Return the value pairs the node can switch between when `field` changes.

        Only an open field has any. For `AND`, a part's change shows through
        unless another part is already false (and the mirror for `OR`): this is
        Kleene short-circuiting.
        """
        key = (id(node), field)
        if key not in self._toggles:
            self._toggles[key] = self._compute_toggles(node, field)
        return self._toggles[key]

    def _compute_toggles(self, node: Node, field: str) -> frozenset:
        if isinstance(node, Leaf):
            if node.field == field and self.is_open(field):
                return ALL_TOGGLES
            return frozenset()
        if isinstance(node, Not):
            return frozenset(
                frozenset(kleene_not(value) for value in pair)
                for pair in self.toggles(node.part, field)
            )

        operator = kleene_and if isinstance(node, AllOf) else kleene_or
        parts = node.children()
        result: set[frozenset] = set()
        for index, part in enumerate(parts):
            part_toggles = self.toggles(part, field)
            if not part_toggles:
                continue
            siblings = combine_reach(
                (self.reach(other) for i, other in enumerate(parts) if i != index),
                operator,
            )
            for pair in part_toggles:
                first, second = tuple(pair)
                for sibling_value in siblings:
                    before = operator(first, sibling_value)
                    after = operator(second, sibling_value)
                    if before is not after:
                        result.add(frozenset({before, after}))
        return frozenset(result)
