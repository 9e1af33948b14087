"""Reading level and plain-text rules for the member-facing text.

The first part tests `bot.readability` itself on small domains. The second
part runs the real `domain.yml` and `data/nlu` through the rules that the
conversation content must keep: grade, length, no literal phone numbers,
complete question and reason responses, and NLU examples that do not overlap.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import nltk
import pytest
import yaml

from bot import readability
from bot.readability import (
    MAX_AVERAGE_GRADE,
    MAX_GRADE,
    SMS_HARD_LIMIT,
    ReadabilityError,
    ResponseGrade,
)
from bot.settings import PROJECT_ROOT

DOMAIN = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
RESPONSES = DOMAIN["responses"]
ENGLISH = list(readability.english_texts(RESPONSES))
GRADES = readability.grade_responses()
DESIGN = (PROJECT_ROOT / "docs" / "design.md").read_text(encoding="utf-8")
NLU_DIR = PROJECT_ROOT / "data" / "nlu"

SPANISH_REQUIRED = (
    "utter_greet",
    "utter_crisis",
    "utter_crisis_continue_offer",
    "utter_ask_screening_consent",
    "utter_why_screening_consent",
    "utter_consent_declined",
    "utter_language_changed",
    "utter_out_of_scope",
    "utter_default",
    "utter_goodbye",
)
# Gate and pointer reason codes only ever come with met = true.
MET_ONLY_CODES = {
    "not_member",
    "careadvantage_plan",
    "kaiser_assigned",
    "hospice_or_pace",
    "whole_person_care",
    "justice_involved",
    "children_youth",
    "birth_equity",
    "nursing_facility_transition",
}
CS_SERVICES = (
    "housing_transition_navigation",
    "housing_deposits",
    "housing_tenancy_sustaining",
    "assisted_living_transition",
    "community_transition_home",
    "home_modifications",
    "medically_tailored_meals",
)
MIN_EXAMPLES_PER_INTENT = 25
MIN_EXAMPLES_PER_FAQ = 15


def write_domain(path: Path, responses: dict) -> Path:
    domain_file = path / "domain.yml"
    domain_file.write_text(yaml.safe_dump({"responses": responses}), encoding="utf-8")
    return domain_file


def design_reason_codes() -> list[str]:
    section = DESIGN.split("### Reason codes", 1)[1]
    return re.findall(r"^\| `(\w+)` \|", section, flags=re.MULTILINE)


def design_faq_names() -> list[str]:
    section = DESIGN.split("FAQ sub-intents", 1)[1].split("###", 1)[0]
    return re.findall(r"`(\w+)`", section.split(":", 1)[1])


def nlu_examples() -> dict[str, list[str]]:
    examples: dict[str, list[str]] = defaultdict(list)
    for path in sorted(NLU_DIR.glob("*.yml")):
        for block in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
            lines = block["examples"].splitlines()
            examples[block["intent"]] += [
                line.strip()[2:] for line in lines if line.strip().startswith("- ")
            ]
    return examples


def strip_annotations(example: str) -> str:
    text = re.sub(r"\[([^\]]+)\](\([^)]*\)|\{[^}]*\})", r"\1", example)
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", "", text.lower())).strip()


# ---------------------------------------------------------------- the module


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Call Member Services at {phone_member_services}.", "Call Plan at this."),
        ("HPSM Medi-Cal and CareAdvantage help", "Plan Plan and Plan help."),
        ("Send the Community Supports Request Information Form", "Send the Plan."),
        ("Community Supports are free", "Plan are free."),
        ("Fax it to 650-555-0100 today.", "Fax it to this today."),
        ("Call 1-800-555-0199 or (650) 555-0123.", "Call this or this."),
        ("See https://example.org/calaim for more.", "See this for more."),
        ("Call or text 988 now.", "Call or text 988 now."),
        ("Name: {name}\nPhone: {phone_last_four}", "Name: this. Phone: this."),
        ("One.\n\nTwo!", "One. Two!"),
    ],
)
def test_mask_terms_cases(text, expected):
    assert readability.mask_terms(text) == expected


def test_english_texts_skips_conditions():
    responses = {
        "utter_hello": [
            {"text": "Hello there."},
            {
                "text": "Hola.",
                "condition": [{"type": "slot", "name": "language", "value": "es"}],
            },
        ],
        "utter_buttons_only": [{"buttons": [{"title": "Yes", "payload": "/affirm"}]}],
    }
    texts = list(readability.english_texts(responses))
    assert texts == [("utter_hello", "Hello there.")]


def test_english_texts_labels_variations():
    responses = {"utter_two": [{"text": "First."}, {"text": "Second."}]}
    labels = [label for label, _ in readability.english_texts(responses)]
    assert labels == ["utter_two[0]", "utter_two[1]"]


def test_grade_text_orders_difficulty():
    easy = "I can help you. Ask me a question. We can talk now."
    hard = (
        "Comprehensive interdisciplinary coordination necessitates "
        "individualized authorization documentation, notwithstanding "
        "administrative considerations regarding institutionalization."
    )
    assert readability.grade_text(easy) < 4
    assert readability.grade_text(hard) > 12


def test_grade_responses_skips_short_texts(tmp_path):
    domain_file = write_domain(
        tmp_path,
        {
            "utter_short": [{"text": "Thanks for your answers."}],
            "utter_long": [
                {"text": "I will ask you a few short questions about your home now."}
            ],
        },
    )
    grades = readability.grade_responses(domain_file)
    assert [item.name for item in grades] == ["utter_long"]
    assert grades[0].words >= readability.MIN_WORDS


def test_load_responses_missing_file(tmp_path):
    with pytest.raises(ReadabilityError, match="Failed to read"):
        readability.load_responses(tmp_path / "missing.yml")


def test_load_responses_without_section(tmp_path):
    domain_file = tmp_path / "domain.yml"
    domain_file.write_text("version: '3.1'\n", encoding="utf-8")
    with pytest.raises(ReadabilityError, match="no responses"):
        readability.load_responses(domain_file)


def test_summarize_average_and_max():
    grades = [
        ResponseGrade("utter_a", 2.0, 12, 60),
        ResponseGrade("utter_b", 6.0, 20, 100),
        ResponseGrade("utter_c", 4.0, 15, 80),
    ]
    summary = readability.summarize(grades)
    assert summary.count == 3
    assert summary.average == 4.0
    assert summary.max_grade == 6.0
    assert summary.max_name == "utter_b"


def test_summarize_empty_rejected():
    with pytest.raises(ReadabilityError):
        readability.summarize([])


def test_syllable_dictionary_offline(tmp_path):
    try:
        readability.ensure_syllable_dictionary(tmp_path)
        corpus = tmp_path / "corpora" / "cmudict" / "cmudict"
        assert corpus.stat().st_size > 1_000_000
        assert Path(nltk.data.find("corpora/cmudict")) == corpus.parent
        first_line = corpus.open(encoding="utf-8").readline().split()
        assert first_line[1] == "1"
    finally:
        nltk.data.path.remove(str(tmp_path))


def test_main_writes_report(tmp_path, capsys):
    output = tmp_path / "readability.md"
    status = readability.main(["--report", "--output", str(output)])
    report = output.read_text(encoding="utf-8")
    assert status == 0
    assert "| average grade |" in report
    for item in GRADES:
        assert f"`{item.name}`" in report
    assert "responses graded" in capsys.readouterr().out


def test_main_flags_hard_domain(tmp_path, capsys):
    hard = (
        "Comprehensive interdisciplinary coordination necessitates "
        "individualized authorization documentation, notwithstanding "
        "administrative considerations regarding institutionalization."
    )
    domain_file = write_domain(tmp_path, {"utter_hard": [{"text": hard}]})
    assert readability.main(["--domain", str(domain_file)]) == 1
    assert "utter_hard" in capsys.readouterr().out


# ---------------------------------------------------------------- the domain


@pytest.mark.parametrize("item", GRADES, ids=lambda item: item.name)
def test_response_grade_within_limit(item):
    assert item.grade <= MAX_GRADE, f"{item.name} reads at grade {item.grade}"


def test_average_grade_within_limit():
    assert readability.summarize(GRADES).average <= MAX_AVERAGE_GRADE


@pytest.mark.parametrize(("name", "text"), ENGLISH, ids=[name for name, _ in ENGLISH])
def test_english_text_is_plain(name, text):
    assert len(text) <= SMS_HARD_LIMIT
    assert text.isascii(), "English text must have no emoji or typographic marks"
    assert not re.search(r"<[a-zA-Z/]", text), "no HTML"
    assert not re.search(r"\*\*|__|\]\(|^#|^\* ", text, flags=re.MULTILINE)
    assert not re.search(r"\bapprov", text, flags=re.IGNORECASE)
    assert not readability.PHONE_PATTERN.search(text), "use a contact slot"


@pytest.mark.parametrize(("name", "text"), ENGLISH, ids=[name for name, _ in ENGLISH])
def test_crisis_numbers_only_in_crisis(name, text):
    if re.search(r"\b(988|911)\b", text):
        assert name == "utter_crisis"


def test_spanish_variations_present():
    for name in SPANISH_REQUIRED:
        conditions = [
            variation.get("condition") for variation in RESPONSES[name]
        ]
        assert None in conditions, f"{name} has no English variation"
        spanish = {"type": "slot", "name": "language", "value": "es"}
        assert any(spanish in (condition or []) for condition in conditions), (
            f"{name} has no Spanish variation"
        )


def test_crisis_reply_in_spanish_for_every_category():
    categories = DOMAIN["slots"]["crisis_category"]["values"]
    spanish = {"type": "slot", "name": "language", "value": "es"}
    for category in categories:
        wanted = {"type": "slot", "name": "crisis_category", "value": category}
        assert any(
            spanish in (variation.get("condition") or [])
            and wanted in (variation.get("condition") or [])
            for variation in RESPONSES["utter_crisis"]
        ), category


def test_form_questions_complete():
    for slot in DOMAIN["forms"]["screening_form"]["required_slots"]:
        assert f"utter_ask_{slot}" in RESPONSES
        assert f"utter_why_{slot}" in RESPONSES
    for slot in DOMAIN["forms"]["handoff_form"]["required_slots"]:
        assert f"utter_ask_{slot}" in RESPONSES


def test_reason_responses_complete():
    codes = design_reason_codes()
    assert len(codes) > 30
    for code in codes:
        assert f"utter_reason_{code}_met" in RESPONSES
        if code in MET_ONLY_CODES:
            continue
        assert f"utter_reason_{code}_not_met" in RESPONSES
        assert f"utter_reason_{code}_unknown" in RESPONSES


def test_result_responses_complete():
    for service in CS_SERVICES:
        for status in ("likely", "unlikely", "needs_review"):
            assert f"utter_result_cs_{service}_{status}" in RESPONSES


def test_faq_responses_and_examples():
    names = design_faq_names()
    examples = nlu_examples()
    assert len(names) == 24
    for name in names:
        assert f"utter_faq/{name}" in RESPONSES
        assert len(examples[f"faq/{name}"]) >= MIN_EXAMPLES_PER_FAQ, name


def test_button_payloads_name_intents():
    intents = set(DOMAIN["intents"])
    for name, variations in RESPONSES.items():
        for variation in variations:
            for button in variation.get("buttons", []):
                payload = button["payload"]
                if payload.startswith("/"):
                    intent = payload[1:].split("{", 1)[0]
                    assert intent in intents, f"{name}: {payload}"


def test_nlu_intents_have_examples():
    examples = nlu_examples()
    for intent in DOMAIN["intents"]:
        if intent == "faq":
            continue
        assert len(examples[intent]) >= MIN_EXAMPLES_PER_INTENT, intent


def test_nlu_examples_not_shared():
    owners: dict[str, set[str]] = defaultdict(set)
    for intent, texts in nlu_examples().items():
        for text in texts:
            owners[strip_annotations(text)].add(intent)
    shared = {
        text: sorted(intents) for text, intents in owners.items() if len(intents) > 1
    }
    assert shared == {}


def test_nlu_no_bare_opt_out_words():
    stop_examples = {
        strip_annotations(text) for text in nlu_examples()["stop_screening"]
    }
    for keyword in ("stop", "end", "cancel", "quit", "unsubscribe", "stopall"):
        assert keyword not in stop_examples
