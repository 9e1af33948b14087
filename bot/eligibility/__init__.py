"""The screening engine for ECM and Community Supports, with no Rasa imports.

`screen()` turns a member profile into statuses with reasons, under a rule set
kept as data in `rule_sets/`. `next_question()` picks the next question whose
answer can still change a status. `python -m bot.eligibility` runs `screen()`
on a JSON profile read from standard input.
"""

from bot.eligibility.engine import screen
from bot.eligibility.planner import SCOPE_ITEMS, next_question, open_questions
from bot.eligibility.profile import (
    PROFILE_FIELDS,
    InvalidProfile,
    parse_profile_json,
    validate_profile,
)
from bot.eligibility.rules import (
    DEFAULT_RULE_SET,
    RULE_SET_ENV,
    RULE_SETS,
    SERVICES,
    STATUSES,
    UnknownRuleSet,
    resolve_rule_set_name,
)

__all__ = [
    "DEFAULT_RULE_SET",
    "InvalidProfile",
    "PROFILE_FIELDS",
    "RULE_SETS",
    "RULE_SET_ENV",
    "SCOPE_ITEMS",
    "SERVICES",
    "STATUSES",
    "UnknownRuleSet",
    "next_question",
    "open_questions",
    "parse_profile_json",
    "resolve_rule_set_name",
    "screen",
    "validate_profile",
]
