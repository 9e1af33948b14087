"""Preferred-language codes: their names for staff, and the queue's groups.

The hand-off stores one of three things. Usually it is the code that
`bot.answers.parse_language` returns: ISO 639-1 where one exists, `yue` for
Cantonese and `ase` for American Sign Language. When the member names no
language, it is the conversation language (`en` or `es`). For a language
that the assistant does not recognise, it is `other`.

The workspace queue filters by the plan's most common languages. `zh` stands
for every Chinese code, because ISO 639 makes `zh` a macrolanguage that
includes Mandarin (`cmn`) and Cantonese (`yue`). `other` stands for every
code outside the named groups and for tickets without a language.
"""

from __future__ import annotations

from bot.answers import LANGUAGE_NAMES, NATIVE_LANGUAGE_NAMES

OTHER = "other"
# Codes the hand-off can store. A test checks that each has a label.
HANDOFF_LANGUAGES = tuple(
    sorted(set(LANGUAGE_NAMES.values()) | set(NATIVE_LANGUAGE_NAMES.values()))
) + (OTHER,)

# English names for staff. `cmn` is not stored today ("Mandarin" is parsed
# as `zh`), but has a name and a group in case the parser starts storing it.
LANGUAGE_LABELS = {
    "en": "English",
    "es": "Spanish",
    "zh": "Chinese",
    "yue": "Cantonese",
    "cmn": "Mandarin",
    "tl": "Tagalog",
    "ru": "Russian",
    "vi": "Vietnamese",
    "ko": "Korean",
    "ar": "Arabic",
    "pt": "Portuguese",
    "hi": "Hindi",
    "ja": "Japanese",
    "to": "Tongan",
    "sm": "Samoan",
    "fr": "French",
    "fa": "Farsi",
    "pa": "Punjabi",
    "my": "Burmese",
    "ase": "American Sign Language",
    OTHER: "Other",
}

# The queue's named groups: a filter value and the stored codes it matches.
LANGUAGE_GROUPS = {
    "en": ("en",),
    "es": ("es",),
    "zh": ("zh", "yue", "cmn"),
    "tl": ("tl",),
}
GROUP_LABELS = {
    "en": "English",
    "es": "Spanish",
    "zh": "Chinese (any, including Cantonese and Mandarin)",
    "tl": "Tagalog",
    OTHER: "Other languages, or none given",
}
# Every stored code in a named group; the `other` filter matches the rest.
GROUPED_CODES = tuple(code for codes in LANGUAGE_GROUPS.values() for code in codes)


def language_label(code: str | None) -> str:
    """Return the staff-facing name of a stored language code.

    Returns:
        The name, such as "Cantonese" for `yue`; an unknown code unchanged;
        an empty string for None.
    """
    if not code:
        return ""
    return LANGUAGE_LABELS.get(code, code)


def single_language_choices() -> list[tuple[str, str]]:
    """List the stored codes that no group filter stands for, by name.

    These are the queue's choices for one language, such as Cantonese or
    Vietnamese, next to the groups.
    """
    codes = [
        code
        for code in HANDOFF_LANGUAGES
        if code not in LANGUAGE_GROUPS and code != OTHER
    ]
    return sorted(
        ((code, language_label(code)) for code in codes), key=lambda item: item[1]
    )
