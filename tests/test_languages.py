"""Preferred-language names for staff and the queue's language groups."""

from __future__ import annotations

import pytest

from bot.answers import parse_language
from bot.languages import (
    GROUPED_CODES,
    HANDOFF_LANGUAGES,
    LANGUAGE_GROUPS,
    LANGUAGE_LABELS,
    OTHER,
    language_label,
    single_language_choices,
)


def test_every_stored_code_has_name():
    missing = [code for code in HANDOFF_LANGUAGES if code not in LANGUAGE_LABELS]

    assert missing == []


@pytest.mark.parametrize(
    ("answer", "name"),
    [
        ("Cantonese", "Cantonese"),
        ("广东话", "Cantonese"),
        ("Mandarin", "Chinese"),
        ("chinese please", "Chinese"),
        ("Tagalog", "Tagalog"),
        ("vietnamese", "Vietnamese"),
        ("sign language", "American Sign Language"),
        ("español", "Spanish"),
    ],
)
def test_member_answer_shown_by_name(answer, name):
    assert language_label(parse_language(answer)) == name


def test_unknown_code_and_none():
    assert language_label("xx") == "xx"
    assert language_label(None) == ""
    assert language_label(OTHER) == "Other"


def test_chinese_group_holds_every_chinese_code():
    assert set(LANGUAGE_GROUPS["zh"]) >= {"zh", "yue"}
    assert "yue" in GROUPED_CODES
    assert OTHER not in GROUPED_CODES


def test_single_choices_leave_out_groups():
    codes = [code for code, _ in single_language_choices()]
    names = [name for _, name in single_language_choices()]

    assert "yue" in codes
    assert "vi" in codes
    assert not set(codes) & (set(LANGUAGE_GROUPS) | {OTHER})
    assert names == sorted(names)
