"""Shared blank spaCy pipelines and the text folding that the rule layers use.

No pretrained model is loaded: `spacy.blank` gives the English or Spanish
tokenizer with its exceptions ("don't" -> "do" + "n't", "gonna" -> "gon" +
"na") and lexical attributes such as `like_num`. The answer parsers, the
crisis rules and the topic rules run `Matcher`/`PhraseMatcher` patterns on
top of these tokenizers.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:  # spaCy is imported lazily: it takes seconds to import.
    from spacy.language import Language
    from spacy.tokens import Doc

logger = logging.getLogger(__name__)

LANGUAGES = ("en", "es")

# Every token a member types ends up in the pipeline's string store, which
# never shrinks. Past this many strings the pipeline is rebuilt, so memory
# stays bounded and typed names or numbers do not stay in memory for the
# life of the process. Callers that build matchers must rebuild them when
# `get_nlp` returns a different object (see `MatcherCache`).
MAX_STRINGS = 200_000

_PIPELINES: dict[str, Language] = {}
_LOCK = threading.Lock()

_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u02bc": "'",
        "`": "'",
        "\u00b4": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u00a0": " ",
    }
)
_SPACES = re.compile(r"\s+")
_RUN_OF_THREE = re.compile(r"([a-z])\1{2,}")
_RUN_OF_TWO = re.compile(r"([a-z])\1+")


def get_nlp(language: str = "en") -> Language:
    """Return the shared blank pipeline for `language` ("en" or "es").

    Args:
        language: ISO 639-1 code of the tokenizer to use.

    Returns:
        A `spacy.blank` pipeline, built on first use and cached.

    Raises:
        ValueError: `language` is not one of `LANGUAGES`.
    """
    if language not in LANGUAGES:
        raise ValueError(
            f"unsupported language {language!r}: use one of {', '.join(LANGUAGES)}"
        )
    nlp = _PIPELINES.get(language)
    if nlp is not None and len(nlp.vocab.strings) <= MAX_STRINGS:
        return nlp

    with _LOCK:
        nlp = _PIPELINES.get(language)
        if nlp is None or len(nlp.vocab.strings) > MAX_STRINGS:
            import spacy

            if nlp is not None:
                logger.info("Rebuilding the %s pipeline to bound its vocab", language)
            nlp = spacy.blank(language)
            _PIPELINES[language] = nlp
    return nlp


def make_doc(text: str, language: str = "en") -> Doc:
    """Tokenize `text` with the shared pipeline for `language` (no components)."""
    return get_nlp(language).make_doc(text)


class MatcherCache:
    """A matcher built once per pipeline, rebuilt when `get_nlp` recycles it.

    Args:
        language: the pipeline the matcher belongs to.
        build: called with the pipeline; returns the object to cache.
    """

    def __init__(self, language: str, build) -> None:
        self._language = language
        self._build = build
        self._nlp = None
        self._value = None
        self._lock = threading.Lock()

    def get(self):
        """Return the cached object, building it for the current pipeline."""
        nlp = get_nlp(self._language)
        if self._nlp is nlp:
            return self._value
        with self._lock:
            if self._nlp is not nlp:
                self._value = self._build(nlp)
                self._nlp = nlp
        return self._value


def fold(text: str) -> str:
    """Lowercase `text`, strip accents and unify quotes, dashes and spaces.

    "¿Sí? Me QUIERO ir" becomes "¿si? me quiero ir". The Spanish ñ folds to
    n, which is harmless because patterns are folded the same way.
    """
    text = unicodedata.normalize("NFKD", text.translate(_QUOTES).casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _SPACES.sub(" ", text).strip()


def squeeze(word: str, keep: int = 2) -> str:
    """Collapse runs of a repeated letter: "killll" -> "kill", "noooo" -> "noo".

    Args:
        word: folded word.
        keep: 2 keeps double letters ("kill"), 1 collapses them ("noo" -> "no").
    """
    if keep == 1:
        return _RUN_OF_TWO.sub(r"\1", word)
    return _RUN_OF_THREE.sub(r"\1\1", word)


def edit_distance(a: str, b: str, limit: int = 2) -> int:
    """Return the optimal string alignment distance of `a` and `b`.

    Insertions, deletions, substitutions and swaps of two neighbouring letters
    cost 1 each ("suicdie" -> "suicide" is 1). The result is capped at
    `limit + 1` so long unrelated words stop early.
    """
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(
                previous[j] + 1,
                current[j - 1] + 1,
                previous[j - 1] + cost,
            )
            if (
                i > 1
                and j > 1
                and a[i - 1] == b[j - 2]
                and a[i - 2] == b[j - 1]
            ):
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return min(previous[-1], limit + 1)


def closest(
    word: str,
    vocabulary: Iterable[str],
    max_distance: int = 1,
) -> str | None:
    """Return the one entry of `vocabulary` nearest to `word`, if near enough.

    Returns `None` when nothing is within `max_distance` or when two entries
    tie, because a tie means the misspelling is ambiguous.
    """
    best: str | None = None
    best_distance = max_distance + 1
    tie = False
    for candidate in vocabulary:
        distance = edit_distance(word, candidate, max_distance)
        if distance < best_distance:
            best, best_distance, tie = candidate, distance, False
        elif distance == best_distance and candidate != best:
            tie = True
    if best is None or tie:
        return None
    return best


def pattern_from_spec(spec: str, sets: dict[str, Iterable[str]]) -> list[dict]:
    """Compile a compact token pattern into a spaCy `Matcher` pattern on NORM.

    The spec is a space-separated list of token specs. "a|b" matches one of
    the words, "@NAME" one of the words in `sets[NAME]` (combinable:
    "@NAME|c"), "#NUM" a number (`LIKE_NUM`) and "~" any one token. A leading
    "?" makes a spec optional, and "~" is always optional.

    Example:
        "@WANT ?to die" with sets={"WANT": ["want", "wish"]} matches "want to
        die" and "wish die".

    Raises:
        KeyError: the spec names a set that `sets` lacks.
    """
    pattern: list[dict] = []
    for item in spec.split():
        optional = item.startswith("?")
        item = item.lstrip("?")
        if item == "~":
            pattern.append({"OP": "?"})
            continue
        if item == "#NUM":
            token: dict = {"LIKE_NUM": True}
        else:
            words: set[str] = set()
            for part in item.split("|"):
                if part.startswith("@"):
                    words.update(sets[part[1:]])
                else:
                    words.add(part)
            token = {"NORM": {"IN": sorted(words)}}
        if optional:
            token["OP"] = "?"
        pattern.append(token)
    return pattern


def spec_words(spec: str) -> set[str]:
    """Return the literal words of a pattern spec (not sets, numbers or "~")."""
    words: set[str] = set()
    for item in spec.split():
        for part in item.lstrip("?").split("|"):
            if part and part[0] not in "@#~":
                words.add(part)
    return words
