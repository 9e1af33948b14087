"""Markdown report of the NLU cross-validation that `make eval` runs.

`rasa test nlu --cross-validation --out DIR` writes scikit-learn classification
reports as JSON into DIR: `intent_report.json` for the intent classifier and,
when the training data has a retrieval intent, `response_selection_report.json`
for the response selector. Both are built from the test folds combined, so
every example is scored by a model that did not train on it.

    python -m bot.eval_report var/nlu-eval docs/nlu-evaluation.md

reads those files and writes the report. The module reads plain JSON and does
not import Rasa.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path

logger = logging.getLogger(__name__)

INTENT_REPORT_FILE = "intent_report.json"
RESPONSE_REPORT_FILE = "response_selection_report.json"
CPUINFO_FILE = Path("/proc/cpuinfo")

# The cross-validation step of `make eval`.
DEFAULT_COMMAND = (
    "python -m bot.rasa_ext.cli test nlu --nlu data/nlu --cross-validation "
    "--folds 3 --out var/nlu-eval --quiet"
)

# Keys of a scikit-learn classification report that are not labels.
SUMMARY_KEYS = frozenset({"accuracy", "macro avg", "weighted avg", "micro avg"})
MAX_CONFUSED_PAIRS = 10
FALLBACK_LABEL = "nlu_fallback"


class EvalReportError(RuntimeError):
    """A cross-validation report file is missing or does not have the expected shape."""


@dataclass(frozen=True)
class LabelScore:
    """Scores of one label (an intent or a response key) over the test folds."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int
    confused_with: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ClassifierScores:
    """Summary and per-label scores of one classifier."""

    labels: tuple[LabelScore, ...]
    accuracy: float
    macro_f1: float
    weighted_f1: float

    @property
    def support(self) -> int:
        """Number of test examples that have one of the labels as target."""
        return sum(score.support for score in self.labels)


@dataclass(frozen=True)
class ConfusedPair:
    """Test examples of label `expected` that the model labelled `predicted`."""

    expected: str
    predicted: str
    count: int


@dataclass(frozen=True)
class Machine:
    """CPU of the machine that ran the evaluation, from /proc/cpuinfo."""

    cpu_model: str
    logical_cpus: int
    physical_cores: int | None

    def describe(self) -> str:
        """Return one line such as `AMD EPYC, 2 physical cores, 2 logical CPUs`."""
        parts = [self.cpu_model]
        if self.physical_cores is not None:
            parts.append(f"{self.physical_cores} physical cores")
        parts.append(f"{self.logical_cpus} logical CPUs")
        return ", ".join(parts)


def parse_report(data: object, source: str = "report") -> ClassifierScores:
    """Parse a classification report dict as Rasa 3.6 writes it.

    Args:
        data: the decoded JSON: one entry per label with `precision`, `recall`,
            `f1-score`, `support` and optionally `confused_with`, plus the
            `accuracy`, `macro avg` and `weighted avg` entries.
        source: name of the file, used in error messages.

    Returns:
        The scores, with labels in the order of the file.

    Raises:
        EvalReportError: when a summary entry or a label's field is missing or
            not a number.
    """
    if not isinstance(data, dict):
        raise EvalReportError(f"{source}: expected a JSON object, got {type(data)}")

    try:
        accuracy = float(data["accuracy"])
        macro_f1 = float(data["macro avg"]["f1-score"])
        weighted_f1 = float(data["weighted avg"]["f1-score"])
    except (KeyError, TypeError, ValueError) as error:
        raise EvalReportError(
            f"{source}: missing or invalid summary entry {error}. Rasa 3.6 "
            "writes 'accuracy', 'macro avg' and 'weighted avg' in every report"
        ) from error

    labels = []
    for label, entry in data.items():
        if label in SUMMARY_KEYS:
            continue
        labels.append(_parse_label(label, entry, source))
    if not labels:
        raise EvalReportError(f"{source}: the report has no labels")

    return ClassifierScores(tuple(labels), accuracy, macro_f1, weighted_f1)


def _parse_label(label: str, entry: object, source: str) -> LabelScore:
    try:
        confused = entry.get("confused_with") or {}
        return LabelScore(
            label=label,
            precision=float(entry["precision"]),
            recall=float(entry["recall"]),
            f1=float(entry["f1-score"]),
            support=int(entry["support"]),
            confused_with={str(name): int(n) for name, n in confused.items()},
        )
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise EvalReportError(
            f"{source}: label {label!r} has a missing or invalid field: {error}"
        ) from error


def load_report(path: Path) -> ClassifierScores:
    """Read and parse one classification report file.

    Raises:
        EvalReportError: when the file is missing, is not JSON or has the
            wrong shape.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise EvalReportError(
            f"{path} not found. Run the cross-validation first: "
            f"{DEFAULT_COMMAND}"
        ) from error
    except json.JSONDecodeError as error:
        raise EvalReportError(f"{path} is not valid JSON: {error}") from error
    return parse_report(data, source=str(path))


def ranked_labels(scores: ClassifierScores) -> list[LabelScore]:
    """Return the labels weakest first: by F1, then by support, then by name."""
    return sorted(scores.labels, key=lambda s: (s.f1, s.support, s.label))


def confused_pairs(
    scores: ClassifierScores, limit: int = MAX_CONFUSED_PAIRS
) -> list[ConfusedPair]:
    """Return the most frequent (expected, predicted) mistakes, most frequent first.

    Rasa keeps at most the top three wrong predictions of each label in
    `confused_with`, so a rare mistake of a label with many can be missing.
    """
    pairs = [
        ConfusedPair(score.label, predicted, count)
        for score in scores.labels
        for predicted, count in score.confused_with.items()
        if count > 0
    ]
    pairs.sort(key=lambda pair: (-pair.count, pair.expected, pair.predicted))
    return pairs[:limit]


def read_machine(cpuinfo: Path = CPUINFO_FILE) -> Machine:
    """Read the CPU model and core counts from a /proc/cpuinfo file.

    Physical cores are the sum of `cpu cores` over the distinct `physical id`
    values, and are None when the file has no such fields (as on some ARM
    kernels). A missing or unreadable file gives `unknown CPU`.
    """
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        logger.warning("Cannot read %s: %s", cpuinfo, error)
        return Machine("unknown CPU", 0, None)

    model = None
    logical = 0
    cores_by_socket: dict[str, int] = {}
    # /proc/cpuinfo is one block of "key : value" lines per logical CPU.
    for block in text.split("\n\n"):
        fields = {}
        for line in block.splitlines():
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
        if "processor" not in fields:
            continue
        logical += 1
        model = model or fields.get("model name") or fields.get("Hardware")
        if "physical id" in fields and fields.get("cpu cores", "").isdigit():
            cores_by_socket[fields["physical id"]] = int(fields["cpu cores"])

    physical = sum(cores_by_socket.values()) if cores_by_socket else None
    return Machine(model or "unknown CPU", logical, physical)


def installed_version(package: str) -> str | None:
    """Return the installed version of a distribution, without importing it."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def render_report(
    intents: ClassifierScores,
    responses: ClassifierScores | None,
    *,
    machine: Machine,
    generated: datetime,
    command: str = DEFAULT_COMMAND,
    cv_seconds: float | None = None,
    rasa_version: str | None = None,
) -> str:
    """Render the Markdown report.

    Args:
        intents: scores of the intent classifier.
        responses: scores of the FAQ response selector, or None when the run
            wrote no response selection report.
        machine: the machine that ran the cross-validation.
        generated: when the report was written.
        command: the command that ran the cross-validation.
        cv_seconds: wall time of the cross-validation in seconds, if measured.
        rasa_version: Rasa's version, if known.

    Returns:
        The whole Markdown document, ending with a newline.
    """
    lines = [
        "# NLU evaluation",
        "",
        "Generated by `python -m bot.eval_report` (the last step of `make eval`); "
        "do not edit by hand.",
        "",
        "Rasa's cross-validation splits `data/nlu` into folds, trains the NLU "
        "pipeline of `config.yml` on all folds but one and scores the held-out "
        "fold. The numbers below combine the held-out folds, so each example was "
        "scored by a model that did not train on it. Intents with fewer examples "
        "than folds are left out by Rasa.",
        "",
        "| | |",
        "| --- | --- |",
        f"| date | {generated.strftime('%Y-%m-%d %H:%M %Z').strip()} |",
        f"| machine | {machine.describe()} |",
        f"| command | `{command}` |",
    ]
    if rasa_version:
        lines.append(f"| Rasa | {rasa_version} |")
    if cv_seconds is not None:
        lines.append(f"| cross-validation wall time | {_duration(cv_seconds)} |")

    lines += [
        "",
        "## Summary",
        "",
        "| classifier | test examples | labels | macro F1 | weighted F1 | accuracy |",
        "| --- | --- | --- | --- | --- | --- |",
        _summary_row("intents", intents),
    ]
    if responses is not None:
        lines.append(_summary_row("FAQ response selector", responses))

    lines += _classifier_section("Intents", "intent", intents)
    if responses is None:
        lines += [
            "",
            "## FAQ response selector",
            "",
            f"The run wrote no `{RESPONSE_REPORT_FILE}`, so the response "
            "selector was not scored.",
        ]
    else:
        lines += _classifier_section(
            "FAQ response selector",
            "response key",
            responses,
            note="Scored on the test examples of the retrieval intent. The "
            "selector's choice counts even where the intent classifier chose "
            "another intent.",
        )
    return "\n".join(lines) + "\n"


def _summary_row(name: str, scores: ClassifierScores) -> str:
    return (
        f"| {name} | {scores.support} | {len(scores.labels)} | "
        f"{scores.macro_f1:.3f} | {scores.weighted_f1:.3f} | {scores.accuracy:.3f} |"
    )


def _classifier_section(
    title: str, noun: str, scores: ClassifierScores, note: str = ""
) -> list[str]:
    intro = (
        f"Sorted by F1, weakest first. Support is the number of test examples of "
        f"the {noun}."
    )
    lines = [
        "",
        f"## {title}",
        "",
        f"{note} {intro}".strip(),
        "",
        f"| {noun} | precision | recall | F1 | support |",
        "| --- | --- | --- | --- | --- |",
    ]
    for score in ranked_labels(scores):
        lines.append(
            f"| `{score.label}` | {score.precision:.3f} | {score.recall:.3f} | "
            f"{score.f1:.3f} | {score.support} |"
        )

    pairs = confused_pairs(scores)
    lines += ["", f"### Most confused {noun}s", ""]
    if not pairs:
        lines.append("No test example was given a wrong label.")
        return lines
    explanation = (
        f"Test examples of the expected {noun} that got the predicted label, "
        f"at most {MAX_CONFUSED_PAIRS} pairs."
    )
    if any(pair.predicted == FALLBACK_LABEL for pair in pairs):
        explanation += (
            f" `{FALLBACK_LABEL}` means the top intent's confidence was below "
            "the FallbackClassifier's threshold."
        )
    lines += [
        explanation,
        "",
        f"| expected {noun} | predicted | examples |",
        "| --- | --- | --- |",
    ]
    for pair in pairs:
        lines.append(f"| `{pair.expected}` | `{pair.predicted}` | {pair.count} |")
    return lines


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    if minutes:
        return f"{seconds:.0f} s ({minutes} min {rest} s)"
    return f"{seconds:.1f} s"


def build_report(
    out_dir: Path,
    *,
    machine: Machine | None = None,
    generated: datetime | None = None,
    command: str = DEFAULT_COMMAND,
    cv_seconds: float | None = None,
) -> str:
    """Read the reports in a cross-validation output directory and render Markdown.

    Raises:
        EvalReportError: when `intent_report.json` is missing or a report file
            has the wrong shape. A missing response selection report is not an
            error.
    """
    intents = load_report(out_dir / INTENT_REPORT_FILE)
    response_path = out_dir / RESPONSE_REPORT_FILE
    responses = load_report(response_path) if response_path.exists() else None
    return render_report(
        intents,
        responses,
        machine=machine or read_machine(),
        generated=generated or datetime.now().astimezone(),
        command=command,
        cv_seconds=cv_seconds,
        rasa_version=installed_version("rasa"),
    )


def main(argv: list[str] | None = None) -> int:
    """Write the report and print its summary line.

    Returns:
        0 on success, 2 when a report file is missing or invalid.
    """
    parser = argparse.ArgumentParser(
        prog="python -m bot.eval_report",
        description="Write the Markdown report of an NLU cross-validation run.",
    )
    parser.add_argument(
        "out_dir", type=Path, help="the --out directory of `rasa test nlu`"
    )
    parser.add_argument("report", type=Path, help="Markdown file to write")
    parser.add_argument(
        "--command",
        default=DEFAULT_COMMAND,
        help="the cross-validation command to name in the report",
    )
    parser.add_argument(
        "--cv-seconds",
        type=float,
        default=None,
        help="wall time of the cross-validation in seconds, to show in the report",
    )
    args = parser.parse_args(argv)

    try:
        markdown = build_report(
            args.out_dir, command=args.command, cv_seconds=args.cv_seconds
        )
    except EvalReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(markdown, encoding="utf-8")
    print(f"wrote {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
