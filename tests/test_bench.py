"""Tests for the benchmark in bench/: statistics, /proc reading, the report, a round.

No test here asserts how long anything takes: wall-clock numbers depend on the
machine and its load. The last test runs a short benchmark (one warm-up round,
two timed rounds) against the real assistant, so that a change to the dialogue
that breaks a timed request fails here and not only at the next benchmark run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from datetime import datetime, timezone

import numpy
import pytest

from bench import processes
from bench.processes import ProcessMemory
from bench.report import KindResult, RunInfo, TrainingResult, percentile
from bench.report import render_report
from bench.turn_time import fictional_phone, measure_turns
from bot.eval_report import Machine
from tests.assistant import start_assistant, stop_assistant


@pytest.mark.parametrize(
    "samples",
    [
        [5.0],
        [3.0, 1.0],
        [1.0, 2.0, 3.0, 4.0],
        [float(n * n % 37) for n in range(30)],
        [10.0, 10.0, 10.0, 250.0],
    ],
)
@pytest.mark.parametrize("fraction", [0.0, 0.5, 0.9, 0.95, 1.0])
def test_percentile_matches_numpy_linear(samples, fraction):
    expected = numpy.percentile(samples, fraction * 100, method="linear")

    assert percentile(samples, fraction) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("samples", "fraction", "message"),
    [
        ([], 0.5, "no samples"),
        ([1.0], 1.5, "between 0 and 1"),
        ([1.0], -0.1, "between 0 and 1"),
    ],
)
def test_percentile_rejects_invalid_input(samples, fraction, message):
    with pytest.raises(ValueError, match=message):
        percentile(samples, fraction)


def test_fictional_phones_distinct_and_reserved():
    phones = [fictional_phone(index) for index in range(500)]

    assert len(set(phones)) == 500
    for phone in phones:
        assert re.fullmatch(r"\+1\d{3}55501\d{2}", phone), phone


@pytest.mark.parametrize(
    ("arguments", "name"),
    [
        (["python", "-m", "bot.rasa_ext.cli", "run", "--model", "m"], "Rasa server"),
        (["python", "-m", "actions.server", "--port", "1"], "action server"),
        (["python", "-m", "bot.runner"], "runner and outbox sender"),
        (["python", "-m", "bot.web"], "web server"),
        (["python", "-m", "bot.rasa_ext.cli", "train"], "python -m bot.rasa_ext.cli"),
        ([], "exited process"),
    ],
)
def test_assistant_process_name(arguments, name):
    assert processes.assistant_process_name(arguments) == name


def _write_stat(proc, pid: int, command: str, parent: int) -> None:
    (proc / str(pid)).mkdir()
    (proc / str(pid) / "stat").write_text(f"{pid} ({command}) S {parent} 1 1 0 -1\n")


def test_children_found_by_scanning_stat(tmp_path):
    # No task/*/children files here, so the scan of every stat file is used.
    _write_stat(tmp_path, 100, "runner", 1)
    _write_stat(tmp_path, 101, "odd (name) x", 100)
    _write_stat(tmp_path, 102, "worker", 100)
    _write_stat(tmp_path, 103, "grandchild", 101)
    _write_stat(tmp_path, 200, "other", 1)
    (tmp_path / "self").mkdir()

    assert processes.child_pids(100, tmp_path) == [101, 102]
    assert processes.descendant_pids(100, tmp_path) == [101, 102, 103]
    assert processes.child_pids(103, tmp_path) == []


def test_status_fields_read_in_kibibytes(tmp_path):
    (tmp_path / "7").mkdir()
    (tmp_path / "7" / "status").write_text(
        "Name:\tpython\nPid:\t7\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n"
    )

    fields = processes.read_status_kb(7, tmp_path)

    assert fields == {"VmHWM": 204800, "VmRSS": 102400}
    assert processes.read_status_kb(8, tmp_path) == {}


def test_real_descendants_and_memory():
    # A child that starts a grandchild, both sleeping until killed.
    script = (
        "import subprocess, sys, time; "
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        "time.sleep(60)"
    )
    child = subprocess.Popen([sys.executable, "-c", script])
    try:
        grandchildren: list[int] = []
        for _ in range(100):
            grandchildren = processes.child_pids(child.pid)
            if grandchildren:
                break
            time.sleep(0.05)

        assert child.pid in processes.child_pids(os.getpid())
        assert len(grandchildren) == 1
        assert processes.descendant_pids(child.pid) == grandchildren

        memory = processes.assistant_memory(child.pid)
        assert [entry.pid for entry in memory] == [child.pid, *grandchildren]
        for entry in memory:
            assert entry.peak_rss_kb is not None and entry.peak_rss_kb > 0
            assert entry.rss_kb is not None and entry.peak_rss_kb >= entry.rss_kb
    finally:
        for pid in processes.child_pids(child.pid):
            os.kill(pid, 9)
        child.kill()
        child.wait()


def _run_info(**changes) -> RunInfo:
    values = dict(
        generated=datetime(2024, 5, 6, 7, 8, tzinfo=timezone.utc),
        machine=Machine("Test CPU 9000", 8, 4),
        command=".venv/bin/python -m bench.turn_time --report x.md",
        rasa_version="3.6.21",
        revision="0be1950 with uncommitted changes",
        repetitions=4,
        rounds=4,
        warmup=1,
        load_before="0.10 0.20 0.30",
        load_after="1.00 0.50 0.40",
        training=TrainingResult(seconds=123.4, peak_rss_kb=2048 * 1024),
        memory=[
            ProcessMemory(10, "runner and outbox sender", 60 * 1024, 59 * 1024),
            ProcessMemory(11, "Rasa server", 1000 * 1024, 900 * 1024),
            ProcessMemory(12, "action server", None, None),
        ],
    )
    values.update(changes)
    return RunInfo(**values)


RESULTS = [
    KindResult("baseline", "GET /", (1.0, 2.0, 3.0, 5.0)),
    KindResult("faq", "REST FAQ", (100.0, 200.0, 300.0, 1000.0)),
    KindResult("sms", "SMS", (5.0, 5.0, 5.0, 5.0)),
]


def _rows(markdown: str, heading: str) -> dict[str, list[str]]:
    section = markdown.split(heading, 1)[1].split("\n## ", 1)[0]
    rows = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in section.splitlines()
        if line.startswith("|")
    ]
    return {row[0]: row[1:] for row in rows[2:]}


def test_report_turn_numbers():
    rows = _rows(render_report(_run_info(), RESULTS), "## Turn time")

    # Medians 2.5, 250 and 5; p95 at position 2.85 of the sorted samples.
    assert rows["baseline"] == ["GET /", "4", "2.5", "4.7", "1.0"]
    assert rows["faq"] == ["REST FAQ", "4", "250.0", "895.0", "100"]
    assert rows["sms"] == ["SMS", "4", "5.0", "5.0", "2.0"]


def test_report_memory_and_training():
    markdown = render_report(_run_info(), RESULTS)
    memory = _rows(markdown, "## Memory")
    training = _rows(markdown, "## Training")

    assert memory["runner and outbox sender"] == ["60", "59"]
    assert memory["Rasa server"] == ["1000", "900"]
    assert memory["action server"] == ["unknown", "unknown"]
    assert training["wall time"] == ["123 s"]
    assert training["peak RSS"] == ["2048 MiB"]


def test_report_header():
    details = _rows(render_report(_run_info(), RESULTS), "# Performance")

    assert details["date"] == ["2024-05-06 07:08 UTC"]
    assert details["machine"] == ["Test CPU 9000, 4 physical cores, 8 logical CPUs"]
    assert details["command"] == ["`.venv/bin/python -m bench.turn_time --report x.md`"]
    assert details["git commit"] == ["0be1950 with uncommitted changes"]
    assert details["load average (1, 5, 15 min) before, after"] == [
        "0.10 0.20 0.30; 1.00 0.50 0.40"
    ]


def test_report_early_stop_and_no_training():
    markdown = render_report(_run_info(rounds=2, training=None), RESULTS)

    assert "2 timed rounds (of 4 asked; the time limit stopped the run)" in markdown
    assert "Not measured in this run (`--skip-training`)." in markdown


@pytest.mark.parametrize(
    ("before", "after", "busy"),
    [
        ("0.10 0.20 0.30", "1.00 0.50 0.40", False),
        ("8.00 0.20 0.30", "1.00 0.50 0.40", False),
        ("0.10 0.20 0.30", "8.01 6.00 5.00", True),
        ("unknown", "9.50 6.00 5.00", True),
        ("unknown", "unknown", False),
    ],
)
def test_report_flags_busy_machine(before, after, busy):
    info = _run_info(load_before=before, load_after=after)

    markdown = render_report(info, RESULTS)

    assert ("The machine was busy" in markdown) is busy


@pytest.mark.parametrize(
    ("results", "message"),
    [
        (RESULTS[1:], "no 'baseline' kind"),
        ([*RESULTS, KindResult("empty", "nothing", ())], "'empty' has no samples"),
    ],
)
def test_report_rejects_incomplete_results(results, message):
    with pytest.raises(ValueError, match=message):
        render_report(_run_info(), results)


@pytest.mark.slow
@pytest.mark.rasa_model
def test_one_round_against_real_assistant(tmp_path, monkeypatch):
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER"):
        monkeypatch.delenv(name, raising=False)
    assistant = start_assistant(tmp_path, {})
    try:
        kinds, rounds = measure_turns(
            assistant, repetitions=2, warmup=1, max_seconds=600
        )
        memory = processes.assistant_memory(assistant.process.pid)
    finally:
        code = stop_assistant(assistant)

    assert code == 0, assistant.log_text()[-3000:]
    assert rounds == 2
    assert [kind.name for kind in kinds] == [
        "baseline",
        "greeting",
        "faq",
        "screening answer",
        "sms webhook",
        "sms turn",
    ]
    for kind in kinds:
        assert len(kind.samples_ms) == 2, kind.name
    names = sorted(entry.name for entry in memory)
    assert names == [
        "Rasa server",
        "action server",
        "runner and outbox sender",
        "web server",
    ]
    for entry in memory:
        assert entry.peak_rss_kb, entry.name
