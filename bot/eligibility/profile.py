"""Member profile fields, their types, and validation.

Every field is optional. A missing field and a field set to `None` both mean
"unknown", which is different from `False` or `0`.
"""

from __future__ import annotations

import difflib
import json
import math
from typing import Any, Mapping

PLAN_VALUES = ("medi-cal", "careadvantage", "none")
MAX_AGE = 130

# Field kinds: "boolean"; "count" (integer >= 0); "age" (integer 0 to MAX_AGE);
# "money" (US dollars, any finite number >= 0); "plan" (one of PLAN_VALUES).
FIELD_KINDS: dict[str, str] = {
    "age": "age",
    "plan": "plan",
    "kaiser_assigned": "boolean",
    "whole_person_care_2021": "boolean",
    "hospice_or_pace": "boolean",
    "unhoused": "boolean",
    "housing_insecure": "boolean",
    "chronic_condition": "boolean",
    "cannot_self_manage": "boolean",
    "avoidable_ed_visits_12mo": "count",
    "avoidable_ed_visits_6mo": "count",
    "admissions_6mo": "count",
    "mental_health_diagnosis": "boolean",
    "sud_diagnosis": "boolean",
    "complex_social_risk": "boolean",
    "pregnant_or_postpartum": "boolean",
    "sud_ed_visits_12mo": "count",
    "high_risk": "boolean",
    "crisis_services_main_care": "boolean",
    "long_term_care_risk": "boolean",
    "released_from_incarceration_12mo": "boolean",
    "engaged_with_care_manager": "boolean",
    "willing_community_supports": "boolean",
    "nursing_facility_days": "count",
    "wants_assisted_living": "boolean",
    "wants_to_move_home": "boolean",
    "safe_in_community_with_support": "boolean",
    "needs_facility_level_care": "boolean",
    "housing_deposit_received_before": "boolean",
    "home_modification_spent": "money",
    "home_modification_needed": "boolean",
    "nutrition_condition": "boolean",
    "recent_discharge_or_high_risk": "boolean",
}
PROFILE_FIELDS: tuple[str, ...] = tuple(FIELD_KINDS)
NUMERIC_KINDS = frozenset({"count", "age", "money"})
PROFILE_NAME = "profile"
_MAX_SHOWN_VALUE = 40


class InvalidProfile(ValueError):
    """A profile that breaks the screening contract.

    Attributes:
        field: the offending field, or "profile" when the profile as a whole is
            not a JSON object or not valid JSON.
        message: what is wrong with it, in one line.
    """

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        if field == PROFILE_NAME:
            super().__init__(f"invalid profile: {message}")
        else:
            super().__init__(f"invalid profile field '{field}': {message}")


def _shown(value: Any) -> str:
    text = json.dumps(value) if _is_json_scalar(value) else repr(value)
    if len(text) > _MAX_SHOWN_VALUE:
        text = text[: _MAX_SHOWN_VALUE - 3] + "..."
    return text


def _is_json_scalar(value: Any) -> bool:
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return isinstance(value, (str, int, float, bool))


def _check_integer(field: str, value: Any, expected: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidProfile(field, f"must be {expected}, got {_shown(value)}")
    if isinstance(value, float):
        # NOTE: a JSON number such as 7.0 is accepted as an integer, as JSON
        # Schema does; 7.5 is not.
        if not value.is_integer():
            raise InvalidProfile(field, f"must be {expected}, got {_shown(value)}")
        value = int(value)
    return value


def _check_value(field: str, kind: str, value: Any) -> Any:
    if value is None:
        return None

    if kind == "boolean":
        if not isinstance(value, bool):
            raise InvalidProfile(
                field, f"must be true, false or null, got {_shown(value)}"
            )
        return value

    if kind == "plan":
        if not isinstance(value, str) or value not in PLAN_VALUES:
            choices = ", ".join(f'"{name}"' for name in PLAN_VALUES)
            raise InvalidProfile(
                field, f"must be one of {choices} or null, got {_shown(value)}"
            )
        return value

    if kind == "count":
        number = _check_integer(field, value, "a whole number of 0 or more")
        if number < 0:
            raise InvalidProfile(field, f"must not be negative, got {number}")
        return number

    if kind == "age":
        number = _check_integer(field, value, f"a whole number from 0 to {MAX_AGE}")
        if number < 0 or number > MAX_AGE:
            raise InvalidProfile(
                field, f"must be from 0 to {MAX_AGE} years, got {number}"
            )
        return number

    # kind == "money"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidProfile(
            field, f"must be a number of US dollars, got {_shown(value)}"
        )
    if not math.isfinite(value):
        raise InvalidProfile(field, f"must be a finite number, got {_shown(value)}")
    if value < 0:
        raise InvalidProfile(field, f"must not be negative, got {value}")
    return value


def validate_profile(profile: Mapping) -> dict:
    """Check a profile against the screening contract and return a clean copy.

    Whole-number floats such as `7.0` in integer fields become `int`; every
    other value is copied as given. Keys set to `None` are kept, because the
    question planner treats them as "asked, member not sure".

    Args:
        profile: field name to value, as decoded from JSON.

    Returns:
        A new dict with the same keys.

    Raises:
        InvalidProfile: on the first field, in the profile's own order, that is
            unknown, of the wrong type (a boolean is never accepted as a number,
            nor a number as a boolean), negative, or an age over 130.
    """
    if not isinstance(profile, Mapping):
        raise InvalidProfile(
            PROFILE_NAME, f"must be a JSON object, got {type(profile).__name__}"
        )

    clean: dict = {}
    for key, value in profile.items():
        if not isinstance(key, str) or key not in FIELD_KINDS:
            raise InvalidProfile(str(key), _unknown_field_message(key))
        clean[key] = _check_value(key, FIELD_KINDS[key], value)
    return clean


def _unknown_field_message(key: Any) -> str:
    message = "unknown field"
    if isinstance(key, str):
        close = difflib.get_close_matches(key, PROFILE_FIELDS, n=1)
        if close:
            message += f"; did you mean '{close[0]}'?"
    return message


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    result: dict = {}
    for key, value in pairs:
        if key in result:
            raise InvalidProfile(key, "appears more than once")
        result[key] = value
    return result


def parse_profile_json(text: str) -> dict:
    """Decode a JSON profile and validate it.

    `NaN` and `Infinity`, which Python's `json` module accepts, are decoded and
    then rejected by validation with the field's name.

    Raises:
        InvalidProfile: for malformed JSON (field "profile"), a repeated key, or
            any error that `validate_profile` reports.
    """
    try:
        decoded = json.loads(text, object_pairs_hook=_reject_duplicate_keys)
    except json.JSONDecodeError as error:
        raise InvalidProfile(
            PROFILE_NAME,
            f"malformed JSON at line {error.lineno} column {error.colno}: "
            f"{error.msg}",
        ) from None
    except (ValueError, RecursionError) as error:
        if isinstance(error, InvalidProfile):
            raise
        # Python raises ValueError for integers over 4300 digits, and
        # RecursionError for very deep nesting.
        raise InvalidProfile(PROFILE_NAME, f"malformed JSON: {error}") from None
    return validate_profile(decoded)
