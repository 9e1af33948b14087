"""Tests for the crisis rule layer in bot/safety.py.

Every row of the main crisis table must be caught with the right language and
category; the false-alarm rate on ordinary messages must stay under 5%. The
hold-out table is only measured (by `python -m bot.safety --report`), so it is
checked here for shape, not recall.
"""

from __future__ import annotations

import dataclasses
import shutil

import pytest

from bot import safety
from bot.safety import CATEGORIES, CrisisMatch, detect_crisis, judge_language

CRISIS_ROWS = safety.load_table(safety.CRISIS_TABLE, "phrasings")
HOLDOUT_ROWS = safety.load_table(safety.CRISIS_TABLE, "holdout")
ORDINARY_ROWS = safety.load_table(safety.ORDINARY_TABLE, "messages")
MAX_FALSE_ALARM_RATE = 0.05


def test_tables_are_big_enough():
    assert len(CRISIS_ROWS) >= 150
    assert len(ORDINARY_ROWS) >= 200
    assert 25 <= len(HOLDOUT_ROWS) <= 40


@pytest.mark.parametrize("rows", [CRISIS_ROWS, HOLDOUT_ROWS, ORDINARY_ROWS])
def test_tables_cover_both_languages(rows):
    languages = {row["language"] for row in rows}
    assert languages == {"en", "es"}


@pytest.mark.parametrize("rows", [CRISIS_ROWS, HOLDOUT_ROWS])
def test_crisis_tables_use_known_categories(rows):
    for row in rows:
        assert row["category"] in CATEGORIES, row


def test_main_table_covers_every_category():
    assert {row["category"] for row in CRISIS_ROWS} == set(CATEGORIES)


@pytest.mark.parametrize("row", CRISIS_ROWS, ids=lambda row: row["text"][:40])
def test_crisis_phrasing_caught(row):
    found = detect_crisis(row["text"])
    assert found is not None, f"missed: {row['text']!r}"
    assert found.language == row["language"]
    assert found.category == row["category"], found.rule


def test_false_alarm_rate_under_limit():
    alarms = [row["text"] for row in ORDINARY_ROWS if detect_crisis(row["text"])]
    rate = len(alarms) / len(ORDINARY_ROWS)
    assert rate < MAX_FALSE_ALARM_RATE, alarms


# Borderline wordings and the documented decision for each (None: no alarm).
BORDERLINE_CASES = [
    ("kill time", None),
    ("I'm just trying to kill time", None),
    ("this form is killing me", None),
    ("my back is killing me", None),
    ("meals for my diabetes", None),
    ("nursing home", None),
    ("my mom wants out of the nursing home", None),
    ("I was in the ER 7 times", None),
    ("housing deposit", None),
    ("stop smoking", None),
    ("I had a stroke in 2019", None),
    ("tuve un infarto hace dos años", None),
    ("my rent is overdue", None),
    ("I'll shoot you an email", None),
    ("my phone is going to die", None),
    ("I don't want to live there anymore", None),
    ("no quiero vivir en el asilo", None),
    ("no estoy segura", None),
    ("me corté el pelo", None),
    ("took 2 tylenol for my headache", None),
    ("I took all my pills as prescribed", None),
    ("¿puede contarme más?", None),
    ("I called 911 twice last year", None),
    # deliberate alarms
    ("my brother died by suicide last year", "suicide"),
    ("is suicide prevention covered?", "suicide"),
    ("I hurt myself falling down the stairs", "self_harm"),
    ("my son overdosed last year", "overdose"),
    ("my mom is going to kill me if I miss the appointment", "violence"),
    ("just kill me now", "suicide"),
    ("I can't do this anymore", "suicide"),
    ("ya no puedo más", "suicide"),
    ("I have chest pain sometimes", "medical_emergency"),
    ("I think I'm having a stroke", "medical_emergency"),
    ("took 30 tylenol", "overdose"),
]


@pytest.mark.parametrize("text, expected", BORDERLINE_CASES)
def test_borderline_decision(text, expected):
    found = detect_crisis(text)
    assert (found.category if found else None) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("SUICIDE", "suicide"),
        ("suiiiicide", "suicide"),
        ("I WANT TO DIEEEE", "suicide"),
        ("i want to kil mysef", "suicide"),
        ("k1ll mys3lf", "suicide"),
        ("want 2 die", "suicide"),
        ("me kiero matar", "suicide"),
        ("sobredosiss", "overdose"),
        ("kms 😭", "suicide"),
        ("i'll kill u", "violence"),
    ],
)
def test_misspellings_and_slang(text, expected):
    found = detect_crisis(text)
    assert found is not None
    assert found.category == expected


@pytest.mark.parametrize("text", ["", "   ", "hi", "👍", "?", "7"])
def test_no_crisis_in_short_answers(text):
    assert detect_crisis(text) is None


def test_match_holds_no_message_text():
    text = "My name is Rosa and I want to kill myself, call 650 555 1234"
    found = detect_crisis(text)
    assert isinstance(found, CrisisMatch)
    field_names = [field.name for field in dataclasses.fields(found)]
    assert field_names == ["category", "language", "rule"]
    for field_value in dataclasses.astuple(found):
        assert "Rosa" not in field_value
        assert "650" not in field_value


@pytest.mark.parametrize(
    "text, expected",
    [
        ("I want to die", "en"),
        ("quiero morir", "es"),
        ("¿Me puede ayudar?", "es"),
        ("mi esposo me pega", "es"),
        ("my esposo está pegándome", "es"),
        ("kms", "en"),
    ],
)
def test_judge_language(text, expected):
    assert judge_language(text) == expected


def test_detection_survives_pipeline_rebuild(monkeypatch):
    from bot import nlp

    before = nlp.get_nlp("en")
    monkeypatch.setattr(nlp, "MAX_STRINGS", 0)
    rebuilt = nlp.get_nlp("en")
    monkeypatch.undo()
    assert rebuilt is not before
    assert detect_crisis("I want to kill myself").category == "suicide"
    assert detect_crisis("kill time") is None


def test_rule_names_unique():
    names = [rule.name for rule in safety.RULES]
    assert len(names) == len(set(names))


def test_report_lists_measurements():
    results = safety.measure()
    assert results["phrasings"]["caught"] == results["phrasings"]["total"]
    markdown = safety.render_report(results)
    assert "crisis phrasings (main) | recall" in markdown
    assert "crisis phrasings (hold-out) | recall" in markdown
    assert "ordinary messages | false alarms" in markdown


def test_write_report_replaces_measured_section(tmp_path):
    copy = tmp_path / "crisis-detection.md"
    shutil.copy(safety.REPORT_DOC, copy)
    safety.write_report("NEW MEASUREMENTS", copy)
    text = copy.read_text(encoding="utf-8")
    start = text.index(safety.REPORT_START)
    end = text.index(safety.REPORT_END)
    assert "NEW MEASUREMENTS" in text[start:end]
    assert text.count(safety.REPORT_START) == 1


def test_write_report_requires_markers(tmp_path):
    document = tmp_path / "plain.md"
    document.write_text("# no markers\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no measured section"):
        safety.write_report("x", document)


def test_main_prints_without_writing(capsys):
    before = safety.REPORT_DOC.read_text(encoding="utf-8")
    assert safety.main([]) == 0
    assert "recall" in capsys.readouterr().out
    assert safety.REPORT_DOC.read_text(encoding="utf-8") == before
