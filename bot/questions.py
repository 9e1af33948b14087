"""Turn a member's reply to a screening question into a profile value."""

from __future__ import annotations

from dataclasses import dataclass

from bot import answers

COUNT_FIELDS = frozenset(
    {
        "avoidable_ed_visits_12mo",
        "avoidable_ed_visits_6mo",
        "admissions_6mo",
        "sud_ed_visits_12mo",
        "nursing_facility_days",
    }
)
# Button payloads and intents that answer a yes/no question directly.
INTENT_ANSWERS = {"affirm": True, "deny": False}
UNSURE_INTENTS = frozenset({"unsure", "skip_question"})


@dataclass(frozen=True)
class Interpretation:
    """The outcome of reading one reply.

    `kind` is "value" (use `value`), "unsure" (store unknown) or "unreadable".
    `rephrase` names the response that asks again in other words.
    """

    kind: str
    value: object = None
    rephrase: str = "utter_rephrase_yes_no"


def answer_kind(field: str) -> str:
    """Return the kind of answer a profile field takes."""
    if field == "plan":
        return "plan"
    if field == "age":
        return "age"
    if field == "home_modification_spent":
        return "money"
    if field in COUNT_FIELDS:
        return "count"
    return "yes_no"


_REPHRASE = {
    "plan": "utter_rephrase_plan",
    "age": "utter_rephrase_age",
    "money": "utter_rephrase_money",
    "count": "utter_rephrase_number",
    "yes_no": "utter_rephrase_yes_no",
}


def interpret(field: str, text: str, intent: str | None, language: str = "en"):
    """Read `text` as the answer to the question for `field`.

    The intent decides first when it is an unambiguous answer (a Yes, No or
    Not sure button, or "skip"), then the parser for the field's kind reads
    the text.
    """
    kind = answer_kind(field)
    rephrase = _REPHRASE[kind]
    if intent in UNSURE_INTENTS:
        return Interpretation("unsure", None, rephrase)
    if kind == "yes_no" and intent in INTENT_ANSWERS and not text.strip():
        return Interpretation("value", INTENT_ANSWERS[intent], rephrase)

    if kind == "plan":
        parsed = answers.parse_plan(text)
    elif kind == "age":
        parsed = answers.parse_age(text)
    elif kind == "money":
        parsed = answers.parse_money(text)
    elif kind == "count":
        parsed = answers.parse_count(text, language=language)
    else:
        parsed = answers.parse_yes_no(text, language=language)
        if parsed.kind == "unreadable" and intent in INTENT_ANSWERS:
            return Interpretation("value", INTENT_ANSWERS[intent], rephrase)
    return Interpretation(parsed.kind, parsed.value, rephrase)
