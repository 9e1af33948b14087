"""Every domain response, rendered as SMS, fits in bodies of at most 4 segments.

Placeholders get long but realistic values, so a response that only fits with
short values fails here.
"""

from __future__ import annotations

import pytest
import yaml

from bot.contacts import contact_slots
from bot.settings import PROJECT_ROOT
from bot.sms_format import render_turn, segment_count

MAX_SEGMENTS = 4
SAMPLE_VALUES = {
    "last_four": "0123",
    "phone_last_four": "0123",
    "name": "Maria Guadalupe Hernandez-Villanueva",
    "member_id_display": "A1234567890B",
    "language_display": "Spanish",
    "call_time": "weekday mornings before 11 am",
    "reference": "HP-7KQ4MX",
    "cancelled_references": "HP-7KQ4MX, HP-2B9C3D",
    "kept_references": "HP-7KQ4MX",
}


def _variants() -> list:
    with open(PROJECT_ROOT / "domain.yml", encoding="utf-8") as handle:
        responses = yaml.safe_load(handle)["responses"]
    cases = []
    for name, variants in responses.items():
        for index, variant in enumerate(variants):
            conditions = variant.get("condition") or []
            spanish = any(item.get("value") == "es" for item in conditions)
            cases.append(pytest.param(variant, "es" if spanish else "en",
                                      id=f"{name}-{index}"))
    return cases


@pytest.mark.parametrize("variant, language", _variants())
def test_response_fits_sms_segments(variant, language):
    values = {**contact_slots(language), **SAMPLE_VALUES}
    message = {"text": (variant.get("text") or "").format_map(values)}
    if variant.get("buttons"):
        message["buttons"] = variant["buttons"]

    bodies = render_turn([message], max_segments=MAX_SEGMENTS)
    segments = [segment_count(body) for body in bodies]

    assert bodies, "the response renders no SMS text"
    assert max(segments) <= MAX_SEGMENTS, segments
    assert "{" not in "".join(bodies)
