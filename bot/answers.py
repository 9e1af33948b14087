"""Free-text answer parsers for the screening and hand-off questions.

Members answer by SMS or web chat, in English or Spanish, with typos and
shorthand ("yse", "idk", "like 7 times", "tal vez"). Each parser reads one
answer and returns an `Answer` that tells a value apart from "not sure" and
from text it could not read, so the form can store `null` for "not sure" and
ask again for unreadable text.

Text is folded first (lowercase, no accents, plain quotes) and tokenized with
the shared blank spaCy pipeline of `bot.nlp`. Phrase lists are matched with a
`PhraseMatcher` on the NORM attribute, so "dont know", "don't know" and
"do not know" are one phrase.

Decisions a caller should know:

- A hedged answer counts as its lean: "i think so" is yes, "probably not" is
  no, "maybe" and "yes and no" are not sure.
- The leading word decides: "no, not homeless" and "not homeless" are no,
  "yes i am" is yes, "yes but not anymore" is still yes.
- A count range ("3 or 4", "between 3 and 5") gives its lower bound as
  `value` and the higher number as `upper`; the bound never overstates what
  the member reported. "more than 5" gives 6, "less than 3" gives 0..2.
- A number beats a hedge: "not sure, maybe 3" is 3.
- Vague amounts ("a few", "a lot", "varias") are not sure; "a couple" is 2.
- "once" is 1 in English and 11 in Spanish (`language="es"`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from bot.nlp import MatcherCache, closest, edit_distance, fold, make_doc, squeeze

# NOTE: the real HPSM member ID format must be confirmed with the plan. Until
# then an ID is assumed to be 8 to 12 letters and digits with at least one of
# each, so a 10-digit phone number or an 8-digit date is never taken for one.
# `bot.logfilter` masks log text with this same pattern.
MEMBER_ID_PATTERN = (
    r"(?<![A-Za-z0-9-])"
    r"(?=[A-Za-z0-9]*[A-Za-z])(?=[A-Za-z0-9]*[0-9])"
    r"[A-Za-z0-9]{8,12}"
    r"(?![A-Za-z0-9-])"
)
MEMBER_ID_RE = re.compile(MEMBER_ID_PATTERN)

MAX_COUNT = 999
MAX_AGE = 130
MAX_MONEY = 10_000_000

AnswerKind = Literal["value", "unsure", "unreadable"]


@dataclass(frozen=True)
class Answer:
    """One parsed answer.

    Attributes:
        kind: "value" when `value` holds the answer, "unsure" when the member
            said they do not know, "unreadable" when the text gave no answer.
        value: the parsed value (bool, int, float or str) when kind is
            "value", else None. For a range it is the lower bound.
        upper: the higher number of a range answer ("3 or 4" -> 4), else None.
    """

    kind: AnswerKind
    value: Any = None
    upper: Any = None

    @property
    def is_value(self) -> bool:
        """Whether the answer holds a value."""
        return self.kind == "value"


UNSURE = Answer("unsure")
UNREADABLE = Answer("unreadable")


def _value(value: Any, upper: Any = None) -> Answer:
    return Answer("value", value, upper)


# --- text preparation -------------------------------------------------------

_EMOJI_WORDS = {
    "\U0001f44d": " yes ",  # thumbs up
    "\U0001f44c": " yes ",  # OK hand
    "\u2705": " yes ",  # check mark button
    "\u2714": " yes ",  # check mark
    "\u2611": " yes ",  # ballot box with check
    "\U0001f646": " yes ",  # person gesturing OK
    "\U0001f44e": " no ",  # thumbs down
    "\u274c": " no ",  # cross mark
    "\u2716": " no ",  # multiplication x
    "\U0001f645": " no ",  # person gesturing no
    "\U0001f6ab": " no ",  # prohibited
    "\u26d4": " no ",  # no entry
    "\U0001f937": " unsure ",  # person shrugging
    "\U0001f914": " unsure ",  # thinking face
}
_DIGIT_LETTER = re.compile(r"(\d)([a-z])")
_LETTER_DIGIT = re.compile(r"([a-z])(\d)")


def _prepare(text: str) -> str:
    """Fold `text`, turn answer emoji into words and drop other symbols."""
    for emoji, word in _EMOJI_WORDS.items():
        text = text.replace(emoji, word)
    characters = []
    for ch in text:
        category = unicodedata.category(ch)
        if category in ("So", "Sk", "Cs", "Co", "Cn") or ch in "\ufe0f\u200d":
            characters.append(" ")
        else:
            characters.append(ch)
    return fold("".join(characters))


def _split_units(text: str) -> str:
    """Separate digits from glued letters: "45yo" -> "45 yo", "3k" -> "3 k"."""
    text = _DIGIT_LETTER.sub(r"\1 \2", text)
    return _LETTER_DIGIT.sub(r"\1 \2", text)


def _words(doc) -> list[str]:
    """Return the NORM of every token that is not punctuation or space."""
    return [t.norm_ for t in doc if not (t.is_punct or t.is_space)]


# --- phrase lists -------------------------------------------------------------

# fmt: off
UNSURE_PHRASES = (
    "unsure", "not sure", "not really sure", "not too sure", "not so sure",
    "not certain", "uncertain", "idk", "idek", "dunno", "dont know", "do not know",
    "dont kno", "dont knw", "no idea", "no clue", "maybe", "mayb", "perhaps",
    "possibly", "might be", "could be", "cant remember", "can not remember",
    "cannot remember", "dont remember", "do not remember", "dont recall",
    "do not recall", "forgot", "i forget", "hard to say", "who knows", "it depends",
    "depends", "sort of", "sorta", "kind of", "kinda", "yes and no", "no se",
    "nose", "no lo se", "no sabria decir", "ni idea", "no tengo idea", "tal vez",
    "talvez", "quizas", "quiza", "a lo mejor", "puede ser", "puede que",
    "no estoy seguro", "no estoy segura", "no seguro", "no segura", "no me acuerdo",
    "no recuerdo", "no lo recuerdo", "mas o menos", "quien sabe", "depende",
)
LEAN_NO_PHRASES = (
    "i dont think so", "dont think so", "do not think so", "i think not",
    "i guess not", "i suppose not", "probably not", "likely not", "i doubt it",
    "doubt it", "not that i know", "not that i remember", "not as far as i know",
    "of course not", "definitely not", "absolutely not", "certainly not",
    "not really", "not at all", "not anymore", "no longer", "no way", "no thanks",
    "no thank you", "yeah no", "creo que no", "no creo", "me parece que no",
    "probablemente no", "supongo que no", "no que yo sepa", "claro que no",
    "por supuesto que no", "para nada", "ya no", "no gracias",
)
LEAN_YES_PHRASES = (
    "i think so", "think so", "i believe so", "believe so", "i guess so",
    "guess so", "i guess", "i suppose", "probably", "most likely", "likely",
    "seems so", "why not", "of course", "for sure", "you bet", "thats right",
    "that is right", "creo que si", "yo creo que si", "pienso que si",
    "me parece que si", "supongo que si", "supongo", "probablemente",
    "por supuesto", "claro que si", "asi es", "eso es",
)
# fmt: on

_PHRASE_LABELS = {
    "unsure": UNSURE_PHRASES,
    "lean_no": LEAN_NO_PHRASES,
    "lean_yes": LEAN_YES_PHRASES,
}


def _build_phrase_matcher(nlp):
    from spacy.matcher import PhraseMatcher

    matcher = PhraseMatcher(nlp.vocab, attr="NORM")
    for label, phrases in _PHRASE_LABELS.items():
        matcher.add(label, [nlp.make_doc(phrase) for phrase in phrases])
    return matcher


_PHRASE_MATCHERS = {
    "en": MatcherCache("en", _build_phrase_matcher),
    "es": MatcherCache("es", _build_phrase_matcher),
}


def _phrase_labels(doc, language: str) -> set[str]:
    matcher = _PHRASE_MATCHERS[language].get()
    return {matcher.vocab.strings[match_id] for match_id, _, _ in matcher(doc)}


def _language(language: str) -> str:
    return "es" if language == "es" else "en"


# --- yes / no -----------------------------------------------------------------

# fmt: off
YES_WORDS = frozenset(
    {
        "yes", "yeah", "yea", "yeh", "yep", "yup", "yah", "yas", "y", "sure", "ok",
        "okay", "k", "correct", "right", "true", "affirmative", "absolutely",
        "definitely", "certainly", "indeed", "totally", "exactly", "si", "sip",
        "simon", "claro", "cierto", "correcto", "exacto", "afirmativo",
        "efectivamente", "obvio", "dale",
    }
)
NO_WORDS = frozenset(
    {
        "no", "nope", "nah", "nay", "n", "never", "negative", "nop", "nel", "nunca",
        "not", "none", "nada", "neither", "false", "wrong", "incorrect", "tampoco",
        "ningun", "ninguno", "ninguna",
    }
)
# fmt: on
# Whole-word spellings close to a yes/no word that must not be read as one.
_NOT_TYPOS = frozenset({"yet", "year", "yen", "yell", "nose", "note", "sue", "pure"})
# fmt: off
_FUZZY_YES_NO = ("yes", "yeah", "yep", "yup", "nope", "sure", "okay", "claro", "never")
_SOFT_OPENERS = frozenset(
    {"um", "umm", "uh", "uhh", "hmm", "hm", "well", "oh", "ah", "so", "pues", "eh",
     "lol", "haha", "jaja", "ok", "okay", "k", "yo", "and", "but", "pero"}
)
# fmt: on
_STATE_VERBS = frozenset({"am", "was", "were", "are", "is", "been", "soy", "estoy"})
_DO_VERBS = frozenset({"do", "did"})
_OTHER_AUX = frozenset({"have", "had", "has", "will", "would", "can", "could"})


def _yes_no_word(word: str, language: str) -> bool | None:
    """Classify one word as yes (True), no (False) or neither (None)."""
    if word == "ya":
        return True if language == "en" else None
    for form in (word, squeeze(word, keep=1)):
        if form in YES_WORDS:
            return True
        if form in NO_WORDS:
            return False
    return None


def _fuzzy_yes_no(word: str) -> bool | None:
    """Read a one-typo yes or no ("yse", "yeas"); None when the typo is ambiguous."""
    if len(word) < 3 or word in _NOT_TYPOS:
        return None
    word = squeeze(word, keep=2)
    readings = {
        target not in ("nope", "never")
        for target in _FUZZY_YES_NO
        if edit_distance(word, target, 1) <= 1
    }
    return readings.pop() if len(readings) == 1 else None


def parse_yes_no(text: str, language: str = "en") -> Answer:
    """Parse an answer to a yes/no question.

    Args:
        text: the member's message.
        language: "en" or "es"; English "ya" means yes only in English.

    Returns:
        `Answer` with value True or False, `UNSURE`, or `UNREADABLE`.
    """
    language = _language(language)
    doc = make_doc(_prepare(text), language)
    words = _words(doc)
    if not words:
        return UNREADABLE

    labels = _phrase_labels(doc, language)
    if "unsure" in labels:
        return UNSURE
    if "lean_no" in labels:
        return _value(False)
    if "lean_yes" in labels:
        return _value(True)

    opened_with_ok = words[0] in ("ok", "okay", "k")
    while words and words[0] in _SOFT_OPENERS:
        words = words[1:]
    if not words:
        return _value(True) if opened_with_ok else UNREADABLE

    leading = _yes_no_word(words[0], language)
    if leading is not None:
        return _value(leading)

    statement = _first_person_statement(words)
    if statement is not None:
        return statement

    if len(words) == 1:
        fuzzy = _fuzzy_yes_no(words[0])
        if fuzzy is not None:
            return _value(fuzzy)
    return UNREADABLE


def _first_person_statement(words: list[str]) -> Answer | None:
    """Read short first-person answers: "i am", "i'm not homeless", "i do"."""
    if len(words) < 2 or words[0] not in ("i", "we"):
        return None
    verb, rest = words[1], words[2:]
    negated = bool(rest) and rest[0] in ("not", "never")
    if negated:
        rest = rest[1:]

    if verb in _STATE_VERBS:
        # "I'm not homeless" negates the state that the question is about.
        return _value(not negated)
    if verb in _DO_VERBS:
        if negated:
            return _value(False) if not rest else UNREADABLE
        return _value(True)
    if verb in _OTHER_AUX and not rest:
        return _value(not negated)
    return None


# --- numbers ------------------------------------------------------------------

# fmt: off
EN_NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11,
    "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30,
    "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90, "ninty": 90, "hundred": 100, "thousand": 1000,
    "million": 1_000_000, "dozen": 12,
}
ES_NUMBER_WORDS = {
    "cero": 0, "uno": 1, "una": 1, "un": 1, "dos": 2, "tres": 3, "cuatro": 4,
    "cinco": 5, "seis": 6, "siete": 7, "ocho": 8, "nueve": 9, "diez": 10,
    "dies": 10, "once": 11, "doce": 12, "trece": 13, "catorce": 14,
    "quince": 15, "dieciseis": 16, "diecisiete": 17, "dieciocho": 18,
    "diecinueve": 19, "veinte": 20, "veintiuno": 21, "veintiuna": 21,
    "veintiun": 21, "veintidos": 22, "veintitres": 23, "veinticuatro": 24,
    "veinticinco": 25, "veintiseis": 26, "veintisiete": 27, "veintiocho": 28,
    "veintinueve": 29, "treinta": 30, "cuarenta": 40, "cincuenta": 50,
    "sesenta": 60, "setenta": 70, "ochenta": 80, "noventa": 90, "cien": 100,
    "ciento": 100, "doscientos": 200, "doscientas": 200, "trescientos": 300,
    "trescientas": 300, "cuatrocientos": 400, "cuatrocientas": 400,
    "quinientos": 500, "quinientas": 500, "seiscientos": 600,
    "seiscientas": 600, "setecientos": 700, "setecientas": 700,
    "ochocientos": 800, "ochocientas": 800, "novecientos": 900,
    "novecientas": 900, "mil": 1000, "millon": 1_000_000,
    "millones": 1_000_000, "docena": 12,
}
# fmt: on
ES_NUMBER_WORDS.pop("un")
# "un", "una", "a" and "an" are a number only before a scale or pair word.
_ARTICLES = frozenset({"a", "an", "un", "una"})
_PAIR_WORDS = frozenset({"couple", "pair", "par"})
# fmt: off
_SCALE_WORDS = frozenset({"hundred", "thousand", "million", "dozen", "docena",
                          "mil", "millon"})
# Scale words after digits: "3 k", "5 mil", "2 thousand", "3 grand".
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000, "mil": 1000,
           "millon": 1_000_000, "millones": 1_000_000, "k": 1000, "grand": 1000}
# fmt: on
_TIMES_WORDS_EN = {"once": 1, "twice": 2, "thrice": 3}
_CONNECTORS = frozenset({"and", "y", "-"})

_DIGITS_RE = re.compile(r"^-?\d+(?:[.,]\d+)*$")


@dataclass(frozen=True)
class _Number:
    value: float
    start: int
    end: int  # exclusive token index
    negative: bool = False


# Spanish words that must not be read as numbers in English text.
_NOT_NUMBERS_IN_EN = frozenset({"once", "dies", "una"})


def _word_value(word: str, language: str) -> int | None:
    """Return the value of one number word, trying the other language second."""
    if language == "es":
        value = ES_NUMBER_WORDS.get(word)
        return EN_NUMBER_WORDS.get(word) if value is None else value
    value = EN_NUMBER_WORDS.get(word)
    if value is None and word not in _NOT_NUMBERS_IN_EN:
        value = ES_NUMBER_WORDS.get(word)
    return value


def _digits_value(token: str, language: str) -> float | None:
    """Read "7", "2,500", "2,500.50", "2.5" and, in Spanish, "2.500" and "2,5".

    A comma followed by groups of three digits is a thousands separator in
    both languages, because members in the US write "$2,500" either way.
    """
    if not _DIGITS_RE.match(token):
        return None
    body = token.lstrip("-")
    if body.isdigit():
        return float(body)
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?", body):
        return float(body.replace(",", ""))
    if language == "es":
        if re.fullmatch(r"\d{1,3}(?:\.\d{3})+(?:,\d{1,2})?", body):
            return float(body.replace(".", "").replace(",", "."))
        if re.fullmatch(r"\d+,\d{1,2}", body):
            return float(body.replace(",", "."))
    if re.fullmatch(r"\d+\.\d+", body):
        return float(body)
    return None


def _extract_numbers(tokens: list[str], language: str) -> list[_Number]:
    """Find every number written in digits or words in `tokens`."""
    numbers: list[_Number] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]

        # "3,4" in English is a list of two numbers, read later as a range.
        if language == "en" and re.fullmatch(r"\d+,\d{1,2}", token):
            left, right = token.split(",")
            numbers.append(_Number(float(left), i, i + 1))
            numbers.append(_Number(float(right), i, i + 1))
            i += 1
            continue

        digits = _digits_value(token, language)
        if digits is not None:
            end = i + 1
            value = digits
            while end < len(tokens) and tokens[end] in _SCALES:
                value *= _SCALES[tokens[end]]
                end += 1
            numbers.append(_Number(value, i, end, token.startswith("-")))
            i = end
            continue

        if language == "en" and token in _TIMES_WORDS_EN:
            numbers.append(_Number(_TIMES_WORDS_EN[token], i, i + 1))
            i += 1
            continue

        following = tokens[i + 1] if i + 1 < len(tokens) else None
        if token in _ARTICLES and following in _PAIR_WORDS:
            numbers.append(_Number(2, i, i + 2))
            i += 2
            continue
        if token == "una" and following == "vez":
            numbers.append(_Number(1, i, i + 2))
            i += 2
            continue
        if token in _ARTICLES and following in _SCALE_WORDS:
            value, end = _read_number_words(tokens, i + 1, language)
            numbers.append(_Number(value, i, end))
            i = end
            continue
        if token in _PAIR_WORDS:
            numbers.append(_Number(2, i, i + 1))
            i += 1
            continue

        if _word_value(token, language) is not None:
            value, end = _read_number_words(tokens, i, language)
            numbers.append(_Number(value, i, end))
            i = end
            continue
        i += 1
    return numbers


def _number_word_kind(word: str, value: int) -> str:
    if word in ("hundred", "dozen", "docena"):
        return "multiplier"
    if value >= 1000:
        return "scale"
    if value >= 100:
        return "hundreds"  # cien, ciento, doscientos...
    if value >= 20 and value % 10 == 0:
        return "tens"
    return "small"  # 0-19 and the one-word Spanish 21-29


def _read_number_words(tokens: list[str], start: int, language: str) -> tuple[int, int]:
    """Read a run of number words from `start`: "twenty one", "treinta y dos".

    Returns:
        (value, end index). Two small numbers in a row ("three four") end the
        run, so they are read as two numbers.
    """
    total = 0  # thousands and millions already closed
    current = 0  # the part below one thousand
    last = None
    i = start
    while i < len(tokens):
        word = tokens[i]
        value = _word_value(word, language)
        if value is None:
            # "twenty-one", "treinta y dos", "hundred and five"
            if last in ("tens", "multiplier", "hundreds", "scale") and (
                word in _CONNECTORS and i + 1 < len(tokens)
            ):
                after = _word_value(tokens[i + 1], language)
                if after is not None and after < 100 and (
                    last != "tens" or after < 10
                ):
                    i += 1
                    continue
            break

        kind = _number_word_kind(word, value)
        if kind == "small":
            if last in ("small",) or (last == "tens" and value >= 10):
                break
            current += value
        elif kind == "tens":
            if last in ("small", "tens"):
                break
            current += value
        elif kind == "hundreds":
            if last in ("small", "tens", "hundreds", "multiplier"):
                break
            current += value
        elif kind == "multiplier":
            if last == "multiplier":
                break
            current = (current or 1) * value
        else:
            if last == "scale" and value <= 1000:
                break
            total += (current or 1) * value
            current = 0
        last = kind
        i += 1
    return total + current, i


# Words after a number that make it a time span, not an amount.
# fmt: off
_TIME_UNITS = frozenset(
    {"month", "months", "mo", "mos", "year", "years", "yr", "yrs", "week", "weeks",
     "wk", "wks", "day", "days", "hour", "hours", "hr", "hrs", "minute", "minutes",
     "min", "mins", "mes", "meses", "ano", "anos", "semana", "semanas", "dia", "dias",
     "hora", "horas", "minutos", "am", "pm"}
)
# fmt: on
_YEAR_PREPOSITIONS = frozenset({"in", "since", "en", "desde", "del", "de"})
_SHORT_PERIODS = frozenset({"month", "week", "day", "mes", "semana", "dia"})
_PERIOD_MARKERS = frozenset({"a", "per", "every", "each", "al", "por", "cada", "la"})
# fmt: off
_RANGE_WORDS = frozenset({"or", "to", "-", "o", "u", "a", "and", "y", "/", "maybe",
                          "til", "till", "through", "thru", "hasta", "or maybe"})
_MORE_THAN = (("more", "than"), ("more", "then"), ("over",), ("mas", "de"),
              ("mas", "que"), ("above",))
_LESS_THAN = (("less", "than"), ("fewer", "than"), ("under",), ("below",),
              ("menos", "de"), ("up", "to"))
# fmt: on
_ALMOST = (("almost",), ("nearly",), ("casi",))
# fmt: off
_VAGUE_AMOUNTS = frozenset(
    {"few", "several", "lot", "lots", "many", "multiple", "bunch", "some", "various",
     "numerous", "tons", "muchas", "muchos", "varias", "varios", "algunas",
     "algunos", "monton", "cuantas", "cuantos", "bastantes", "pocas", "pocos"}
)
_ZERO_WORDS = frozenset(
    {"none", "zero", "never", "no", "nope", "nah", "nada", "ninguna", "ninguno",
     "ningun", "nunca", "cero", "nothing", "not", "nil"}
)
# fmt: on


def _preceded_by(tokens: list[str], index: int, phrases) -> bool:
    for phrase in phrases:
        n = len(phrase)
        if index - n >= 0 and tuple(tokens[index - n:index]) == phrase:
            return True
    return False


def _followed_by(tokens: list[str], index: int, phrases) -> bool:
    for phrase in phrases:
        n = len(phrase)
        if tuple(tokens[index:index + n]) == phrase:
            return True
    return False


def _amount_tokens(text: str, language: str) -> tuple[object, list[str]]:
    text = _split_units(_prepare(text)).replace("$", " $ ")
    text = re.sub(r"(?<=\d)-", " - ", text)  # "1000-2000" is a range
    doc = make_doc(text, language)
    tokens = [t.norm_ for t in doc if not t.is_space]
    return doc, tokens


def _is_time_span(tokens: list[str], number: _Number) -> bool:
    """Return True when `number` is a period or a year ("12 months", "in 2023")."""
    after = tokens[number.end] if number.end < len(tokens) else ""
    before = tokens[number.start - 1] if number.start > 0 else ""
    if after in _TIME_UNITS or before in ("last", "past", "ultimos", "ultimas"):
        return True
    return 1900 <= number.value <= 2100 and before in _YEAR_PREPOSITIONS


def _is_frequency(tokens: list[str], number: _Number) -> bool:
    after = tokens[number.end:number.end + 4]
    for j in range(len(after) - 1):
        if after[j] in _PERIOD_MARKERS and after[j + 1] in _SHORT_PERIODS:
            return True
    return False


def _pick_amount(tokens: list[str], numbers: list[_Number]) -> Answer | None:
    """Turn the numbers left after filtering into one value or a range."""
    if not numbers:
        return None
    if any(n.negative for n in numbers):
        return UNREADABLE
    if len(numbers) == 1:
        number = numbers[0]
        if _preceded_by(tokens, number.start, _MORE_THAN):
            return _value(number.value + 1)
        if _preceded_by(tokens, number.start, _LESS_THAN):
            low, high = 0, max(number.value - 1, 0)
            return _value(low, high)
        if _preceded_by(tokens, number.start, _ALMOST):
            return _value(max(number.value - 1, 0))
        return _value(number.value)
    if len(numbers) == 2:
        first, second = numbers
        between = tuple(
            t for t in tokens[first.end:second.start] if t not in _CURRENCY_WORDS
        )
        joined = " ".join(between)
        if (first.start == second.start) or (
            between
            and (joined in _RANGE_WORDS or all(w in _RANGE_WORDS for w in between))
        ):
            low, high = sorted((first.value, second.value))
            if low == high:
                return _value(low)
            return _value(low, high)
    distinct = {n.value for n in numbers}
    if len(distinct) == 1:
        return _value(numbers[0].value)
    return UNREADABLE


def _as_int(answer: Answer, maximum: int) -> Answer:
    if not answer.is_value:
        return answer
    if answer.value != int(answer.value) or not 0 <= answer.value <= maximum:
        return UNREADABLE
    upper = answer.upper
    if upper is not None:
        if upper != int(upper) or upper > maximum:
            return UNREADABLE
        upper = int(upper)
    return _value(int(answer.value), upper)


def parse_count(text: str, language: str = "en") -> Answer:
    """Parse a count of events such as emergency visits or hospital stays.

    Args:
        text: the member's message ("like 7 times", "twice", "tres", "3 or 4").
        language: "en" or "es"; decides whether "once" is 1 or 11.

    Returns:
        `Answer` with an int value 0..999 (and `upper` for a range), `UNSURE`
        for "not sure" or a vague amount, or `UNREADABLE` for no number, a
        negative or absurd number, a rate ("once a month") or several numbers.
    """
    language = _language(language)
    doc, tokens = _amount_tokens(text, language)
    if not [t for t in tokens if t.strip()]:
        return UNREADABLE

    numbers = [n for n in _extract_numbers(tokens, language)
               if not _is_time_span(tokens, n)]
    if any(_is_frequency(tokens, n) for n in numbers):
        return UNREADABLE
    picked = _pick_amount(tokens, numbers)
    if picked is not None and picked.value == 1 and _negated_one(tokens, numbers[0]):
        return _value(0)  # "not once", "not even one time"
    if picked is not None:
        return _as_int(picked, MAX_COUNT)

    if "unsure" in _phrase_labels(doc, language):
        return UNSURE
    words = set(_words(doc))
    if words & _VAGUE_AMOUNTS:
        return UNSURE
    if words & _ZERO_WORDS or "lean_no" in _phrase_labels(doc, language):
        return _value(0)
    return UNREADABLE


def _negated_one(tokens: list[str], number: _Number) -> bool:
    before = tokens[max(0, number.start - 2):number.start]
    return "not" in before or "ni" in before


# fmt: off
_AGE_UNITS = frozenset({"years", "year", "yrs", "yr", "yo", "anos", "ano", "old"})
_INFANT_UNITS = frozenset({"months", "month", "meses", "mes", "weeks", "week",
                           "semanas", "semana", "days", "dias"})
# fmt: on


def parse_age(text: str, language: str = "en") -> Answer:
    """Parse an age in years, 0 to 130 ("45", "I'm 45", "forty five").

    Args:
        text: the member's message.
        language: "en" or "es".

    Returns:
        `Answer` with an int value, `UNSURE`, or `UNREADABLE` (no number, out
        of range, or two different ages).
    """
    language = _language(language)
    doc, tokens = _amount_tokens(text, language)
    numbers = _extract_numbers(tokens, language)
    if any(n.negative for n in numbers):
        return UNREADABLE

    def unit_after(number: _Number) -> str | None:
        return tokens[number.end] if number.end < len(tokens) else None

    with_years = [n for n in numbers if unit_after(n) in _AGE_UNITS or (
        unit_after(n) == "y" and tokens[n.end + 1:n.end + 3] == ["/", "o"])]
    infant = [n for n in numbers if unit_after(n) in _INFANT_UNITS]
    if with_years:
        chosen = with_years[0]
    elif infant and len(numbers) == len(infant):
        return _value(0)
    elif len({n.value for n in numbers}) == 1:
        chosen = numbers[0]
    elif numbers:
        return UNREADABLE
    else:
        if "unsure" in _phrase_labels(doc, language):
            return UNSURE
        return UNREADABLE

    age = int(chosen.value)
    if not 0 <= age <= MAX_AGE:
        return UNREADABLE
    return _value(age)


# fmt: off
_CURRENCY_WORDS = frozenset({"$", "dollars", "dollar", "bucks", "usd", "dolares",
                             "dolar", "dls"})
# fmt: on


def parse_money(text: str, language: str = "en") -> Answer:
    """Parse an amount in US dollars ("$2,500", "2500 dollars", "about 3k").

    Args:
        text: the member's message.
        language: "en" or "es"; decides whether "2.500" is 2500 or 2.5.

    Returns:
        `Answer` with a float value (range: lower bound, `upper` set),
        `UNSURE`, or `UNREADABLE`. "none", "nothing" and "nada" give 0.
    """
    language = _language(language)
    doc, tokens = _amount_tokens(text, language)
    if not [t for t in tokens if t.strip()]:
        return UNREADABLE

    numbers = [n for n in _extract_numbers(tokens, language)
               if not _is_time_span(tokens, n)]
    with_currency = [
        n for n in numbers
        if (n.start > 0 and tokens[n.start - 1] in _CURRENCY_WORDS)
        or (n.end < len(tokens) and tokens[n.end] in _CURRENCY_WORDS)
    ]
    if with_currency and len(with_currency) < len(numbers):
        numbers = with_currency
    picked = _pick_amount(tokens, numbers)
    if picked is not None:
        if not picked.is_value:
            return picked
        if not 0 <= picked.value <= MAX_MONEY:
            return UNREADABLE
        upper = None if picked.upper is None else round(float(picked.upper), 2)
        return _value(round(float(picked.value), 2), upper)

    if "unsure" in _phrase_labels(doc, language):
        return UNSURE
    words = set(_words(doc))
    if words & _VAGUE_AMOUNTS or {"little", "poco"} & words:
        return UNSURE
    if words & _ZERO_WORDS:
        return _value(0.0)
    return UNREADABLE


# --- plan ---------------------------------------------------------------------

PLAN_MEDI_CAL = "medi-cal"
PLAN_CAREADVANTAGE = "careadvantage"
PLAN_NONE = "none"

# Spellings after removing spaces and hyphens between words.
_PLAN_SPELLINGS = {
    "medical": PLAN_MEDI_CAL,
    "medcal": PLAN_MEDI_CAL,
    "medikal": PLAN_MEDI_CAL,
    "medicaid": PLAN_MEDI_CAL,
    "hpsmmedical": PLAN_MEDI_CAL,
    "careadvantage": PLAN_CAREADVANTAGE,
    "careadvantagecmc": PLAN_CAREADVANTAGE,
    "calmediconnect": PLAN_CAREADVANTAGE,
    "mediconnect": PLAN_CAREADVANTAGE,
    "cmc": PLAN_CAREADVANTAGE,
    "dsnp": PLAN_CAREADVANTAGE,
    "medicare": "medicare",
    "kaiser": "kaiser",
    "kaizer": "kaiser",
}
# fmt: off
_EXPLICIT_CAREADVANTAGE = frozenset({"careadvantage", "careadvantagecmc",
                                     "calmediconnect", "mediconnect", "cmc", "dsnp"})
_FUZZY_PLAN_TARGETS = ("medical", "medicare", "careadvantage", "mediconnect",
                       "calmediconnect", "medicaid")
# fmt: on
_NEGATIONS = frozenset({"no", "not", "never", "nunca", "without", "sin"})
_NONE_PHRASES = (
    ("not", "a", "member"),
    ("not", "member"),
    ("no", "soy", "miembro"),
    ("no", "tengo"),
    ("no", "insurance"),
    ("no", "seguro"),
    ("not", "with", "hpsm"),
    ("other", "insurance"),
    ("private", "insurance"),
    ("covered", "california"),
    ("blue", "shield"),
    ("blue", "cross"),
    ("through", "work"),
    ("through", "my", "job"),
    ("do", "not", "have"),
)
# fmt: off
_NONE_WORDS = frozenset({"no", "nope", "nah", "none", "neither", "uninsured",
                         "ninguno", "ninguna", "ningun", "nada", "anthem", "aetna",
                         "cigna", "nunca"})
# fmt: on


def _plan_mentions(words: list[str]) -> list[tuple[str, int, int]]:
    """Find plan names in `words`, joining up to three words ("medi cal")."""
    mentions = []
    i = 0
    while i < len(words):
        found = None
        for n in (3, 2, 1):
            if i + n > len(words):
                continue
            key = "".join(words[i:i + n])
            plan = _PLAN_SPELLINGS.get(key)
            if plan is None and len(key) >= 6 and key.isalpha():
                near = closest(key, _FUZZY_PLAN_TARGETS, max_distance=1)
                plan = _PLAN_SPELLINGS.get(near) if near else None
                if near == "medicaid":
                    plan = PLAN_MEDI_CAL
            if plan is not None:
                explicit = key in _EXPLICIT_CAREADVANTAGE or (
                    plan == PLAN_CAREADVANTAGE and key not in _PLAN_SPELLINGS
                )
                label = "careadvantage!" if explicit else plan
                found = (label, i, i + n)
                break
        if found:
            mentions.append(found)
            i = found[2]
        else:
            i += 1
    return mentions


def parse_plan(text: str, language: str = "en") -> Answer:
    """Parse which HPSM plan the member has.

    Medi-Cal spellings give "medi-cal"; CareAdvantage, Cal MediConnect and
    Medicare give "careadvantage"; "not a member", "no" or another insurer give
    "none". Kaiser is a doctor assignment inside Medi-Cal, not a plan, so
    "kaiser" alone is not sure.

    Args:
        text: the member's message.
        language: "en" or "es".

    Returns:
        `Answer` with value "medi-cal", "careadvantage" or "none", `UNSURE`,
        or `UNREADABLE`.
    """
    language = _language(language)
    doc = make_doc(_prepare(text), language)
    # Punctuation other than hyphens becomes a boundary, so in "no, medicare"
    # the "no" does not negate the plan after it.
    words = [
        "|" if t.is_punct else t.norm_
        for t in doc
        if not t.is_space and t.text != "-"
    ]
    if not [w for w in words if w != "|"]:
        return UNREADABLE
    if "unsure" in _phrase_labels(doc, language):
        return UNSURE

    mentions = _plan_mentions(words)
    stated, negated = set(), set()
    for label, start, _ in mentions:
        window = words[max(0, start - 3):start]
        if "|" in window:
            window = window[len(window) - window[::-1].index("|"):]
        (negated if _NEGATIONS & set(window) else stated).add(label)

    if "careadvantage!" in stated:
        return _value(PLAN_CAREADVANTAGE)
    if PLAN_MEDI_CAL in stated and "medicare" in stated:
        # NOTE: a member with Medicare and HPSM Medi-Cal may or may not be in
        # CareAdvantage; staff check, so this is not sure.
        return UNSURE
    if PLAN_MEDI_CAL in stated:
        return _value(PLAN_MEDI_CAL)
    if "medicare" in stated or PLAN_CAREADVANTAGE in stated:
        return _value(PLAN_CAREADVANTAGE)
    if negated and not stated - {"kaiser"}:
        return _value(PLAN_NONE)
    if "kaiser" in stated:
        # NOTE: Kaiser alone could be HPSM Medi-Cal with a Kaiser doctor or
        # private Kaiser coverage, so the plan is left to staff.
        return UNSURE

    if any(_followed_by(words, i, _NONE_PHRASES) for i in range(len(words))):
        return _value(PLAN_NONE)
    if words[0] in _NONE_WORDS or set(words) & (_NONE_WORDS - {"no", "nunca"}):
        return _value(PLAN_NONE)
    if "hpsm" in words or _followed_by(words, 0, (("health", "plan"),)):
        return UNSURE  # a member, but the answer does not say which plan
    return UNREADABLE


# --- phone numbers ------------------------------------------------------------

_PHONE_RE = re.compile(
    r"""
    (?<![\w+])
    (?:\+?1[\s.\-]*)?
    (?:\(\s*(?P<area_p>\d{3})\s*\)|(?P<area>\d{3}))
    [\s.\-]*
    (?P<exchange>\d{3})
    [\s.\-]*
    (?P<line>\d{4})
    (?!\d)
    """,
    re.VERBOSE,
)
_NANP_REGIONS = frozenset({"US", "CA"})


# Area codes that cannot be a member's own phone: premium-rate (900, 976)
# and toll-free numbers, which cannot receive the confirmation SMS.
NON_PERSONAL_AREA_CODES = frozenset(
    {"900", "976", "800", "833", "844", "855", "866", "877", "888"}
)


def _valid_nanp(area: str, exchange: str) -> bool:
    """Check the North American numbering rules for area and exchange codes.

    Both must start with 2-9, and neither may be an N11 service code (211,
    411, 911...). Premium-rate and toll-free area codes are rejected too.
    """
    if area in NON_PERSONAL_AREA_CODES:
        return False
    for code in (area, exchange):
        if code[0] in "01" or code[1:] == "11":
            return False
    return True


def parse_phone(text: str, default_region: str = "US") -> str | None:
    """Parse a US phone number in any common format into E.164.

    "650 555 1234", "(650)555-1234", "+1 650-555-1234" and "6505551234" all
    give "+16505551234". Digits glued to the number ("16505551234999") make
    it unreadable.

    Args:
        text: the member's message; the first number in it is used.
        default_region: "US" (or "CA", which shares the numbering plan).

    Returns:
        The E.164 string, or None when no valid number is found.

    Raises:
        ValueError: `default_region` is outside the North American plan.
    """
    if default_region.upper() not in _NANP_REGIONS:
        raise ValueError(
            f"unsupported region {default_region!r}: only US and CA numbers are read"
        )
    text = fold(text).replace("\u2212", "-")
    for match in _PHONE_RE.finditer(text):
        area = match.group("area_p") or match.group("area")
        exchange, line = match.group("exchange"), match.group("line")
        if _valid_nanp(area, exchange):
            return f"+1{area}{exchange}{line}"
    return None


def last_four(phone: str) -> str:
    """Return the last four digits of `phone`, or "" when it has fewer."""
    digits = re.sub(r"\D", "", phone or "")
    return digits[-4:] if len(digits) >= 4 else ""


# --- dates of birth -----------------------------------------------------------

# fmt: off
MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3,
    "april": 4, "apr": 4, "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7,
    "august": 8, "aug": 8, "september": 9, "sept": 9, "sep": 9, "october": 10,
    "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
    "enero": 1, "ene": 1, "febrero": 2, "marzo": 3, "abril": 4, "abr": 4,
    "mayo": 5, "junio": 6, "julio": 7, "agosto": 8, "ago": 8, "septiembre": 9,
    "setiembre": 9, "octubre": 10, "noviembre": 11, "diciembre": 12, "dic": 12,
}
# fmt: on
_LONG_MONTH_NAMES = tuple(name for name in MONTHS if len(name) >= 5)
_NUMERIC_DATE_RE = re.compile(
    r"(?<!\d)(\d{1,4})\s*[/\-.]\s*(\d{1,2})\s*[/\-.]\s*(\d{2,4})(?!\d)"
)
_EIGHT_DIGITS_RE = re.compile(r"(?<!\d)(\d{2})(\d{2})(\d{4})(?!\d)")
_ORDINAL_RE = re.compile(r"(\d{1,2})(?:st|nd|rd|th|ro|do|vo|to|o)\b")
_MONTH_WORD_RE = re.compile(r"[a-z]+")


def _full_year(year: int, digits: int, today: date) -> int:
    if digits > 2:
        return year
    year += 2000
    return year if year <= today.year else year - 100


def _make_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _month_number(word: str) -> int | None:
    if word in MONTHS:
        return MONTHS[word]
    if len(word) >= 5:
        near = closest(word, _LONG_MONTH_NAMES, max_distance=1)
        if near:
            return MONTHS[near]
    return None


def _numeric_date(text: str, today: date, day_first: bool) -> date | None:
    for match in _NUMERIC_DATE_RE.finditer(text):
        first, second, third = match.groups()
        if len(first) == 4:
            found = _make_date(int(first), int(second), int(third))
        elif len(first) == 3 or len(third) == 3:
            found = None
        else:
            year = _full_year(int(third), len(third), today)
            a, b = int(first), int(second)
            if a > 12 or (day_first and b <= 12):
                found = _make_date(year, b, a)
            else:
                found = _make_date(year, a, b)
        if found is not None:
            return found
    for match in _EIGHT_DIGITS_RE.finditer(text):
        month, day, year = (int(g) for g in match.groups())
        found = _make_date(year, month, day)
        if found is not None:
            return found
    return None


def _worded_date(text: str, today: date) -> date | None:
    """Read "March 14 1975", "14 March 1975", "14 de marzo de 1975"."""
    text = _ORDINAL_RE.sub(r"\1", text)
    parts = [
        part
        for part in re.split(r"[\s,./\-]+", text)
        if part and part not in ("de", "del", "of", "the")
    ]
    for i, part in enumerate(parts):
        if not _MONTH_WORD_RE.fullmatch(part):
            continue
        month = _month_number(part)
        if month is None:
            continue
        before = parts[i - 1] if i > 0 else ""
        after = parts[i + 1:i + 3]
        if len(after) == 2 and after[0].isdigit() and after[1].isdigit():
            day_text, year_text = after
        elif before.isdigit() and after and after[0].isdigit():
            day_text, year_text = before, after[0]
        else:
            continue
        if len(day_text) > 2 or len(year_text) not in (2, 4):
            continue
        year = _full_year(int(year_text), len(year_text), today)
        return _make_date(year, month, int(day_text))
    return None


def parse_date_of_birth(
    text: str, today: date | None = None, language: str = "en"
) -> date | None:
    """Parse a date of birth written with numbers or month names.

    Numeric dates are read month first ("03/04/1975" is March 4) unless the
    first number is over 12, or `language` is "es", where day first is the
    usual order. Two-digit years are placed in the last hundred years.

    Args:
        text: the member's message ("3-14-75", "March 14 1975",
            "14 de marzo de 1975").
        today: the reference date (default: `date.today()`).
        language: "en" or "es".

    Returns:
        The date, or None when no valid date is found, it is in the future,
        or it means an age over 130.
    """
    today = today or date.today()
    folded = fold(text)
    found = _numeric_date(folded, today, day_first=language == "es")
    if found is None:
        found = _worded_date(folded, today)
    if found is None or found > today:
        return None
    had_birthday = (today.month, today.day) >= (found.month, found.day)
    age = today.year - found.year - (0 if had_birthday else 1)
    if age > MAX_AGE:
        return None
    return found


# --- member id, language ------------------------------------------------------


def parse_member_id(text: str) -> str | None:
    """Find an HPSM member ID in `text` (pattern `MEMBER_ID_PATTERN`).

    Spaces or dashes typed inside a short answer ("ab12 3456 7") are ignored.

    Returns:
        The ID in upper case, or None.
    """
    match = MEMBER_ID_RE.search(text)
    if match:
        return match.group(0).upper()
    compact = re.sub(r"[\s\-]", "", text.strip())
    if len(compact) <= 12:
        match = MEMBER_ID_RE.fullmatch(compact)
        if match:
            return match.group(0).upper()
    return None


# fmt: off
LANGUAGE_NAMES = {
    "english": "en", "ingles": "en", "eng": "en",
    "spanish": "es", "espanol": "es", "castellano": "es", "spanich": "es",
    "chinese": "zh", "mandarin": "zh", "chino": "zh", "mandarin chinese": "zh",
    "cantonese": "yue", "canton": "yue", "cantones": "yue",
    "tagalog": "tl", "filipino": "tl", "pilipino": "tl",
    "russian": "ru", "ruso": "ru", "russkiy": "ru",
    "vietnamese": "vi", "vietnamita": "vi",
    "korean": "ko", "coreano": "ko",
    "arabic": "ar", "arabe": "ar",
    "portuguese": "pt", "portugues": "pt",
    "hindi": "hi",
    "japanese": "ja", "japones": "ja",
    "tongan": "to", "tongano": "to",
    "samoan": "sm", "samoano": "sm",
    "french": "fr", "frances": "fr",
    "farsi": "fa", "persian": "fa",
    "punjabi": "pa",
    "burmese": "my",
    "american sign language": "ase", "asl": "ase", "sign language": "ase",
    "lengua de senas": "ase", "lenguaje de senas": "ase",
}
# Names written in their own script (checked on the raw text).
NATIVE_LANGUAGE_NAMES = {
    "中文": "zh", "普通话": "zh", "普通話": "zh", "国语": "zh", "國語": "zh",
    "廣東話": "yue", "广东话": "yue", "粵語": "yue", "粤语": "yue",
    "русский": "ru", "tiếng việt": "vi", "한국어": "ko", "العربية": "ar",
    "日本語": "ja", "فارسی": "fa",
}
# fmt: on


def parse_language(text: str) -> str | None:
    """Return the ISO code of the language the member names ("español" -> "es").

    ISO 639-1 codes are used where one exists; Cantonese is "yue" and
    American Sign Language "ase" (ISO 639-3). When several languages are
    named, the first one wins.

    Returns:
        The code, or None when no language is named.
    """
    lowered = text.casefold()
    native = [(lowered.find(name), code) for name, code in NATIVE_LANGUAGE_NAMES.items()
              if name in lowered]
    words = re.findall(r"[a-z]+", fold(text))
    found: list[tuple[int, str]] = []
    i = 0
    while i < len(words):
        hit = None
        for n in (3, 2, 1):
            phrase = " ".join(words[i:i + n])
            if len(words[i:i + n]) == n and phrase in LANGUAGE_NAMES:
                hit = (LANGUAGE_NAMES[phrase], n)
                break
        if hit is None and len(words[i]) >= 6:
            near = closest(words[i], [k for k in LANGUAGE_NAMES if " " not in k],
                           max_distance=1)
            if near:
                hit = (LANGUAGE_NAMES[near], 1)
        if hit:
            found.append((i, hit[0]))
            i += hit[1]
        else:
            i += 1
    if found:
        return found[0][1]
    if native:
        return min(native)[1]
    return None

