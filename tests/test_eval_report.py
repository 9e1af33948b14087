"""Tests for bot/eval_report.py on small cross-validation reports.

The fixtures have the shape Rasa 3.6 writes with `rasa test nlu
--cross-validation --out DIR`: scikit-learn's classification report per label,
Rasa's `confused_with` counts, and the `accuracy`, `micro avg`, `macro avg` and
`weighted avg` entries. The numbers are scikit-learn's for these confusions:

intents: affirm 6 examples (4 right, 2 predicted deny), deny 4 (3 right, 1
predicted affirm), faq 5 (all right).
responses: faq/cost 3 (2 right, 1 predicted faq/tty), faq/tty 2 (both right),
faq/interpreter 1 (right).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot import eval_report
from bot.eval_report import EvalReportError, Machine

INTENT_REPORT = {
    "affirm": {
        "precision": 0.8,
        "recall": 0.6666666666666666,
        "f1-score": 0.7272727272727272,
        "support": 6,
        "confused_with": {"deny": 2},
    },
    "deny": {
        "precision": 0.6,
        "recall": 0.75,
        "f1-score": 0.6666666666666665,
        "support": 4,
        "confused_with": {"affirm": 1},
    },
    "faq": {
        "precision": 1.0,
        "recall": 1.0,
        "f1-score": 1.0,
        "support": 5,
        "confused_with": {},
    },
    "accuracy": 0.8,
    "macro avg": {
        "precision": 0.7999999999999999,
        "recall": 0.8055555555555555,
        "f1-score": 0.7979797979797979,
        "support": 15,
    },
    "weighted avg": {
        "precision": 0.8133333333333334,
        "recall": 0.8,
        "f1-score": 0.802020202020202,
        "support": 15,
    },
    "micro avg": {"precision": 0.8, "recall": 0.8, "f1-score": 0.8, "support": 15},
}

RESPONSE_REPORT = {
    "faq/cost": {
        "precision": 1.0,
        "recall": 0.6666666666666666,
        "f1-score": 0.8,
        "support": 3,
        "confused_with": {"faq/tty": 1},
    },
    "faq/interpreter": {
        "precision": 1.0,
        "recall": 1.0,
        "f1-score": 1.0,
        "support": 1,
        "confused_with": {},
    },
    "faq/tty": {
        "precision": 0.6666666666666666,
        "recall": 1.0,
        "f1-score": 0.8,
        "support": 2,
        "confused_with": {},
    },
    "accuracy": 0.8333333333333334,
    "macro avg": {
        "precision": 0.8888888888888888,
        "recall": 0.8888888888888888,
        "f1-score": 0.8666666666666667,
        "support": 6,
    },
    "weighted avg": {
        "precision": 0.8888888888888888,
        "recall": 0.8333333333333334,
        "f1-score": 0.8333333333333334,
        "support": 6,
    },
    "micro avg": {
        "precision": 0.8333333333333334,
        "recall": 0.8333333333333334,
        "f1-score": 0.8333333333333334,
        "support": 6,
    },
}

MACHINE = Machine("Test CPU 9000", logical_cpus=8, physical_cores=4)
GENERATED = datetime(2024, 5, 6, 7, 8, tzinfo=timezone.utc)

X86_CPUINFO = "".join(
    f"processor\t: {n}\nvendor_id\t: GenuineIntel\n"
    f"model name\t: Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz\n"
    f"physical id\t: {n // 8}\nsiblings\t: 8\ncpu cores\t: 4\n\n"
    for n in range(16)
)
ARM_CPUINFO = (
    "processor\t: 0\nBogoMIPS\t: 48.00\nCPU implementer\t: 0x41\n\n"
    "processor\t: 1\nBogoMIPS\t: 48.00\nCPU implementer\t: 0x41\n\n"
)


def write_reports(directory: Path, intents=INTENT_REPORT, responses=RESPONSE_REPORT):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "intent_report.json").write_text(json.dumps(intents, indent=2))
    if responses is not None:
        (directory / "response_selection_report.json").write_text(
            json.dumps(responses, indent=2)
        )
    return directory


def build(directory: Path, **kwargs) -> str:
    return eval_report.build_report(
        directory, machine=MACHINE, generated=GENERATED, **kwargs
    )


def table_rows(markdown: str, heading: str) -> list[list[str]]:
    """Return the cells of the first table after `heading`, without its header."""
    section = markdown.split(heading, 1)[1]
    rows = []
    for line in section.splitlines():
        if line.startswith("#") and rows:
            break
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
        elif rows:
            break
    return rows[2:]


def test_summary_numbers(tmp_path):
    markdown = build(write_reports(tmp_path))
    rows = {row[0]: row[1:] for row in table_rows(markdown, "## Summary")}

    assert rows["intents"] == ["15", "3", "0.798", "0.802", "0.800"]
    assert rows["FAQ response selector"] == ["6", "3", "0.867", "0.833", "0.833"]


def test_intent_table_weakest_first(tmp_path):
    markdown = build(write_reports(tmp_path))
    rows = table_rows(markdown, "## Intents")

    assert [row[0] for row in rows] == ["`deny`", "`affirm`", "`faq`"]
    assert rows[0] == ["`deny`", "0.600", "0.750", "0.667", "4"]
    assert rows[1] == ["`affirm`", "0.800", "0.667", "0.727", "6"]
    assert rows[2] == ["`faq`", "1.000", "1.000", "1.000", "5"]


def test_equal_f1_ordered_by_support(tmp_path):
    markdown = build(write_reports(tmp_path))
    rows = table_rows(markdown, "## FAQ response selector")

    assert [row[0] for row in rows] == [
        "`faq/tty`",
        "`faq/cost`",
        "`faq/interpreter`",
    ]


def test_confused_pairs_most_frequent_first(tmp_path):
    markdown = build(write_reports(tmp_path))
    intents = table_rows(markdown, "### Most confused intents")
    responses = table_rows(markdown, "### Most confused response keys")

    assert intents == [["`affirm`", "`deny`", "2"], ["`deny`", "`affirm`", "1"]]
    assert responses == [["`faq/cost`", "`faq/tty`", "1"]]


def test_run_details_in_header(tmp_path):
    markdown = build(
        write_reports(tmp_path), command="python -m example --flag", cv_seconds=227.6
    )
    details = dict(row[:2] for row in table_rows(markdown, "# NLU evaluation"))

    assert details["date"] == "2024-05-06 07:08 UTC"
    assert details["machine"] == "Test CPU 9000, 4 physical cores, 8 logical CPUs"
    assert details["command"] == "`python -m example --flag`"
    assert details["cross-validation wall time"] == "228 s (3 min 48 s)"


def test_wall_time_omitted_when_unknown(tmp_path):
    markdown = build(write_reports(tmp_path))

    assert "wall time" not in markdown
    assert eval_report.DEFAULT_COMMAND in markdown


def test_missing_response_report_is_stated(tmp_path):
    markdown = build(write_reports(tmp_path, responses=None))
    summary = table_rows(markdown, "## Summary")

    assert [row[0] for row in summary] == ["intents"]
    assert "response_selection_report.json" in markdown
    assert "not scored" in markdown


def test_fallback_label_explained_only_when_present(tmp_path):
    intents = json.loads(json.dumps(INTENT_REPORT))
    intents["deny"]["confused_with"] = {"nlu_fallback": 3}
    with_fallback = build(write_reports(tmp_path / "a", intents=intents))
    without = build(write_reports(tmp_path / "b"))

    assert "`nlu_fallback` means" in with_fallback
    assert "`nlu_fallback` means" not in without


def test_confused_pairs_limit():
    report = json.loads(json.dumps(INTENT_REPORT))
    report["faq"]["confused_with"] = {f"label_{n}": n for n in range(1, 15)}
    scores = eval_report.parse_report(report)

    pairs = eval_report.confused_pairs(scores, limit=3)

    assert [(p.predicted, p.count) for p in pairs] == [
        ("label_14", 14),
        ("label_13", 13),
        ("label_12", 12),
    ]


def _without(key: str) -> dict:
    report = json.loads(json.dumps(INTENT_REPORT))
    del report[key]
    return report


def _label_without(field: str) -> dict:
    report = json.loads(json.dumps(INTENT_REPORT))
    del report["deny"][field]
    return report


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2], "expected a JSON object"),
        (_without("accuracy"), "'accuracy'"),
        (_without("macro avg"), "'macro avg'"),
        (_without("weighted avg"), "'weighted avg'"),
        (_label_without("f1-score"), "label 'deny'"),
        (_label_without("support"), "label 'deny'"),
        ({**_label_without("recall"), "deny": "0.5"}, "label 'deny'"),
        (
            {key: INTENT_REPORT[key] for key in eval_report.SUMMARY_KEYS},
            "no labels",
        ),
    ],
)
def test_invalid_report_rejected(data, message):
    with pytest.raises(EvalReportError, match=re.escape(message)):
        eval_report.parse_report(data, source="intent_report.json")


def test_missing_intent_report_rejected(tmp_path):
    with pytest.raises(EvalReportError, match="intent_report.json not found"):
        build(tmp_path)


def test_invalid_json_rejected(tmp_path):
    (tmp_path / "intent_report.json").write_text("{not json")

    with pytest.raises(EvalReportError, match="not valid JSON"):
        build(tmp_path)


@pytest.mark.parametrize(
    ("text", "model", "logical", "physical"),
    [
        (X86_CPUINFO, "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz", 16, 8),
        (ARM_CPUINFO, "unknown CPU", 2, None),
        ("", "unknown CPU", 0, None),
    ],
)
def test_read_machine(tmp_path, text, model, logical, physical):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(text)

    machine = eval_report.read_machine(cpuinfo)

    assert machine.cpu_model == model
    assert machine.logical_cpus == logical
    assert machine.physical_cores == physical


def test_read_machine_missing_file(tmp_path):
    machine = eval_report.read_machine(tmp_path / "absent")

    assert machine == Machine("unknown CPU", 0, None)


def test_main_writes_report(tmp_path, capsys):
    out_dir = write_reports(tmp_path / "nlu-eval")
    target = tmp_path / "docs" / "nlu-evaluation.md"

    code = eval_report.main([str(out_dir), str(target), "--cv-seconds", "42"])

    assert code == 0
    markdown = target.read_text()
    assert "| intents | 15 | 3 | 0.798 | 0.802 | 0.800 |" in markdown
    assert "| cross-validation wall time | 42.0 s |" in markdown
    real_machine = eval_report.read_machine()
    assert f"| machine | {real_machine.describe()} |" in markdown
    assert str(target) in capsys.readouterr().out


def test_main_reports_missing_directory(tmp_path, capsys):
    code = eval_report.main([str(tmp_path / "absent"), str(tmp_path / "out.md")])

    assert code == 2
    assert "intent_report.json not found" in capsys.readouterr().err
    assert not (tmp_path / "out.md").exists()
