"""Tests of `python -m bot.eligibility`, run as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
HOMELESS_ADULT = {
    "plan": "medi-cal",
    "age": 45,
    "unhoused": True,
    "chronic_condition": True,
    "cannot_self_manage": False,
}


def run_cli(stdin: bytes | str, *args: str, env_rule_set: str | None = None):
    env = {key: value for key, value in os.environ.items()}
    env.pop("ELIGIBILITY_RULE_SET", None)
    if env_rule_set is not None:
        env["ELIGIBILITY_RULE_SET"] = env_rule_set
    data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
    return subprocess.run(
        [sys.executable, "-m", "bot.eligibility", *args],
        input=data,
        capture_output=True,
        cwd=PROJECT_ROOT,
        env=env,
        timeout=60,
    )


def test_valid_profile_prints_json():
    completed = run_cli(json.dumps(HOMELESS_ADULT))
    assert completed.returncode == 0
    assert completed.stderr == b""
    result = json.loads(completed.stdout)
    assert result["rule_set"] == "hpsm-2022"
    assert result["ecm"]["status"] == "likely"
    assert result["ecm"]["populations"] == ["homelessness"]


def test_rule_set_option():
    # dhcs-2024 also needs "cannot manage alone", which this member can.
    completed = run_cli(json.dumps(HOMELESS_ADULT), "--rule-set", "dhcs-2024")
    assert completed.returncode == 0
    result = json.loads(completed.stdout)
    assert result["rule_set"] == "dhcs-2024"
    assert "homelessness" not in result["ecm"]["populations"]


def test_rule_set_environment():
    completed = run_cli(json.dumps(HOMELESS_ADULT), env_rule_set="dhcs-2024")
    assert completed.returncode == 0
    assert json.loads(completed.stdout)["rule_set"] == "dhcs-2024"


def test_option_beats_environment():
    completed = run_cli(
        "{}", "--rule-set", "hpsm-2022", env_rule_set="dhcs-2024"
    )
    assert completed.returncode == 0
    assert json.loads(completed.stdout)["rule_set"] == "hpsm-2022"


def test_empty_environment_uses_default():
    completed = run_cli("{}", env_rule_set="")
    assert completed.returncode == 0
    assert json.loads(completed.stdout)["rule_set"] == "hpsm-2022"


VALID_CASES = [
    ("empty object", "{}"),
    ("all unknown", json.dumps({"age": None, "plan": None, "unhoused": None})),
    ("not a member", json.dumps({"plan": "none"})),
    ("whitespace around", "\n  {\"age\": 30}  \n"),
    ("byte order mark", "\ufeff{\"age\": 30}"),
    ("whole float", "{\"admissions_6mo\": 3.0}"),
]


@pytest.mark.parametrize(
    "stdin", [case[1] for case in VALID_CASES], ids=[case[0] for case in VALID_CASES]
)
def test_valid_input_exits_zero(stdin):
    completed = run_cli(stdin)
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == b""
    assert json.loads(completed.stdout)["ecm"]["status"] in (
        "likely",
        "unlikely",
        "needs_review",
    )


INVALID_CASES = [
    # (id, stdin, text that the error line must contain)
    ("wrong type", '{"age": "45"}', "'age'"),
    ("negative count", '{"admissions_6mo": -2}', "'admissions_6mo'"),
    ("unknown field", '{"homeless": true}', "'homeless'"),
    ("age over 130", '{"age": 131}', "'age'"),
    ("bool as int", '{"unhoused": 1}', "'unhoused'"),
    ("int as bool", '{"avoidable_ed_visits_12mo": true}', "'avoidable_ed_visits_12mo'"),
    ("bad plan", '{"plan": "medicare"}', "'plan'"),
    ("negative money", '{"home_modification_spent": -1}', "'home_modification_spent'"),
    ("nan", '{"home_modification_spent": NaN}', "'home_modification_spent'"),
    ("infinity", '{"nursing_facility_days": Infinity}', "'nursing_facility_days'"),
    ("duplicate key", '{"age": 30, "age": 40}', "'age'"),
    ("malformed json", '{"age": 30,', "malformed JSON"),
    ("trailing text", '{"age": 30} x', "malformed JSON"),
    ("empty input", "", "malformed JSON"),
    ("array", "[1, 2]", "JSON object"),
    ("null profile", "null", "JSON object"),
    ("not utf-8", b'{"age": "\xff"}', "UTF-8"),
    ("newline in value", '{"plan": "medi-cal\\nx"}', "'plan'"),
]


@pytest.mark.parametrize(
    "stdin, expected",
    [case[1:] for case in INVALID_CASES],
    ids=[case[0] for case in INVALID_CASES],
)
def test_invalid_input_exits_two(stdin, expected):
    completed = run_cli(stdin)
    assert completed.returncode == 2
    assert completed.stdout == b""
    error = completed.stderr.decode("utf-8")
    assert error.count("\n") == 1, error
    assert error.endswith("\n")
    assert expected in error


def test_unknown_rule_set_option():
    completed = run_cli("{}", "--rule-set", "hpsm-1999")
    assert completed.returncode == 2
    error = completed.stderr.decode("utf-8")
    assert error.count("\n") == 1
    assert "hpsm-1999" in error
    assert "dhcs-2024" in error


def test_unknown_rule_set_environment():
    completed = run_cli("{}", env_rule_set="state-rules")
    assert completed.returncode == 2
    assert "state-rules" in completed.stderr.decode("utf-8")
    assert completed.stderr.decode("utf-8").count("\n") == 1


def test_unknown_option():
    completed = run_cli("{}", "--verbose")
    assert completed.returncode == 2
    assert completed.stdout == b""
    error = completed.stderr.decode("utf-8")
    assert error.count("\n") == 1
    assert "--verbose" in error


def test_help():
    completed = run_cli("", "--help")
    assert completed.returncode == 0
    assert b"--rule-set" in completed.stdout
    assert b"ELIGIBILITY_RULE_SET" in completed.stdout
