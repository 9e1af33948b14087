"""Table tests for the free-text answer parsers in bot/answers.py."""

from __future__ import annotations

from datetime import date

import pytest

from bot.answers import (
    MEMBER_ID_PATTERN,
    UNREADABLE,
    UNSURE,
    Answer,
    last_four,
    parse_age,
    parse_count,
    parse_date_of_birth,
    parse_language,
    parse_member_id,
    parse_money,
    parse_phone,
    parse_plan,
    parse_yes_no,
)

YES = Answer("value", True)
NO = Answer("value", False)


def value(v, upper=None) -> Answer:
    return Answer("value", v, upper)


YES_NO_CASES = [
    # plain and shorthand
    ("yes", "en", YES),
    ("Yes", "en", YES),
    ("YES!!!", "en", YES),
    ("yes.", "en", YES),
    ("yeah", "en", YES),
    ("yea", "en", YES),
    ("yep", "en", YES),
    ("yup", "en", YES),
    ("ya", "en", YES),
    ("y", "en", YES),
    ("Y", "en", YES),
    ("sure", "en", YES),
    ("ok", "en", YES),
    ("okay", "en", YES),
    ("correct", "en", YES),
    ("yes i am", "en", YES),
    ("yes please", "en", YES),
    ("yes, I've been homeless for two years", "en", YES),
    ("i think so", "en", YES),
    ("I believe so", "en", YES),
    ("probably", "en", YES),
    ("of course", "en", YES),
    ("sure, why not", "en", YES),
    ("I am", "en", YES),
    ("i do", "en", YES),
    ("I'm homeless", "en", YES),
    ("ok yes", "en", YES),
    ("um yes", "en", YES),
    # typos and stretched spellings
    ("yse", "en", YES),
    ("yeh", "en", YES),
    ("yess", "en", YES),
    ("yesss", "en", YES),
    ("yeahhh", "en", YES),
    ("yeas", "en", YES),
    ("suer", "en", YES),
    # emoji
    ("👍", "en", YES),
    ("yes 😊", "en", YES),
    ("✅", "en", YES),
    ("👎", "en", NO),
    ("🤷", "en", UNSURE),
    # no
    ("no", "en", NO),
    ("No.", "en", NO),
    ("NO", "en", NO),
    ("nope", "en", NO),
    ("nah", "en", NO),
    ("n", "en", NO),
    ("never", "en", NO),
    ("not really", "en", NO),
    ("not at all", "en", NO),
    ("no way", "en", NO),
    ("no thanks", "en", NO),
    ("I don't think so", "en", NO),
    ("i dont think so", "en", NO),
    ("probably not", "en", NO),
    ("of course not", "en", NO),
    ("yeah no", "en", NO),
    ("not anymore", "en", NO),
    ("no i'm not", "en", NO),
    ("not homeless", "en", NO),
    ("i'm not homeless", "en", NO),
    ("I am not", "en", NO),
    ("i don't", "en", NO),
    ("ok no", "en", NO),
    ("wrong", "en", NO),
    ("none", "en", NO),
    # typos of no
    ("noo", "en", NO),
    ("nooo", "en", NO),
    ("Nooope", "en", NO),
    ("nop", "en", NO),
    # not sure
    ("not sure", "en", UNSURE),
    ("I'm not sure", "en", UNSURE),
    ("not really sure", "en", UNSURE),
    ("idk", "en", UNSURE),
    ("IDK", "en", UNSURE),
    ("dunno", "en", UNSURE),
    ("maybe", "en", UNSURE),
    ("i don't know", "en", UNSURE),
    ("I dont know", "en", UNSURE),
    ("i do not know", "en", UNSURE),
    ("don't remember", "en", UNSURE),
    ("I can't remember", "en", UNSURE),
    ("no idea", "en", UNSURE),
    ("kind of", "en", UNSURE),
    ("yes and no", "en", UNSURE),
    ("it depends", "en", UNSURE),
    ("no, I don't know", "en", UNSURE),
    # Spanish
    ("sí", "es", YES),
    ("si", "es", YES),
    ("Sí, claro", "es", YES),
    ("claro", "es", YES),
    ("claro que sí", "es", YES),
    ("por supuesto", "es", YES),
    ("creo que sí", "es", YES),
    ("sii", "es", YES),
    ("no", "es", NO),
    ("nunca", "es", NO),
    ("para nada", "es", NO),
    ("creo que no", "es", NO),
    ("no, gracias", "es", NO),
    ("claro que no", "es", NO),
    ("no sé", "es", UNSURE),
    ("no se", "es", UNSURE),
    ("nose", "es", UNSURE),
    ("tal vez", "es", UNSURE),
    ("talvez", "es", UNSURE),
    ("quizás", "es", UNSURE),
    ("quizas", "es", UNSURE),
    ("a lo mejor", "es", UNSURE),
    ("no estoy segura", "es", UNSURE),
    ("no me acuerdo", "es", UNSURE),
    ("ni idea", "es", UNSURE),
    ("más o menos", "es", UNSURE),
    # a member may answer in the other language
    ("sí", "en", YES),
    ("yes", "es", YES),
    # "ya" is yes only in English
    ("ya", "es", UNREADABLE),
    # unreadable
    ("", "en", UNREADABLE),
    ("   ", "en", UNREADABLE),
    ("?", "en", UNREADABLE),
    ("😂", "en", UNREADABLE),
    ("banana", "en", UNREADABLE),
    ("what do you mean", "en", UNREADABLE),
    ("my name is Maria", "en", UNREADABLE),
    ("year", "en", UNREADABLE),
    ("I do not have a care manager", "en", UNREADABLE),
    ("I have a car", "en", UNREADABLE),
]


@pytest.mark.parametrize("text, language, expected", YES_NO_CASES)
def test_parse_yes_no(text, language, expected):
    assert parse_yes_no(text, language) == expected


COUNT_CASES = [
    ("7", "en", value(7)),
    ("like 7 times", "en", value(7)),
    ("7 times", "en", value(7)),
    ("about 7", "en", value(7)),
    ("7+", "en", value(7)),
    ("7 or so", "en", value(7)),
    ("three", "en", value(3)),
    ("Three times", "en", value(3)),
    ("twenty one", "en", value(21)),
    ("twenty-one", "en", value(21)),
    ("one hundred and five", "en", value(105)),
    ("a hundred", "en", value(100)),
    ("a dozen", "en", value(12)),
    ("a couple", "en", value(2)),
    ("a couple of times", "en", value(2)),
    ("couple times", "en", value(2)),
    ("once", "en", value(1)),
    ("twice", "en", value(2)),
    ("one time", "en", value(1)),
    ("none", "en", value(0)),
    ("zero", "en", value(0)),
    ("0", "en", value(0)),
    ("never", "en", value(0)),
    ("no", "en", value(0)),
    ("nope", "en", value(0)),
    ("not once", "en", value(0)),
    ("no visits", "en", value(0)),
    # ranges: the lower bound, with the higher number in `upper`
    ("3 or 4", "en", value(3, 4)),
    ("3-4", "en", value(3, 4)),
    ("3,4", "en", value(3, 4)),
    ("4 or 3", "en", value(3, 4)),
    ("between 3 and 5", "en", value(3, 5)),
    ("3 to 5 times", "en", value(3, 5)),
    ("one or two", "en", value(1, 2)),
    ("more than 5", "en", value(6)),
    ("over 10", "en", value(11)),
    ("at least 4", "en", value(4)),
    ("less than 3", "en", value(0, 2)),
    ("almost 5", "en", value(4)),
    # periods and years are not counts
    ("twice in the last 12 months", "en", value(2)),
    ("7 times in 12 months", "en", value(7)),
    ("2 times in 6 months", "en", value(2)),
    ("3 times in 2023", "en", value(3)),
    ("a number: 5!", "en", value(5)),
    # Spanish
    ("tres", "es", value(3)),
    ("veintiuno", "es", value(21)),
    ("treinta y dos", "es", value(32)),
    ("ciento cinco", "es", value(105)),
    ("dos veces", "es", value(2)),
    ("una vez", "es", value(1)),
    ("un par de veces", "es", value(2)),
    ("once", "es", value(11)),
    ("ninguna", "es", value(0)),
    ("nunca", "es", value(0)),
    ("cero", "es", value(0)),
    ("3 o 4", "es", value(3, 4)),
    ("como 5 veces", "es", value(5)),
    ("más de 5", "es", value(6)),
    ("tres", "en", value(3)),
    # not sure and vague amounts
    ("not sure", "en", UNSURE),
    ("idk", "en", UNSURE),
    ("I don't remember", "en", UNSURE),
    ("a few", "en", UNSURE),
    ("a lot", "en", UNSURE),
    ("several", "en", UNSURE),
    ("many times", "en", UNSURE),
    ("no sé", "es", UNSURE),
    ("muchas veces", "es", UNSURE),
    ("varias", "es", UNSURE),
    # a number beats a hedge
    ("not sure, maybe 3", "en", value(3)),
    ("no sé, como 4", "es", value(4)),
    # unreadable
    ("", "en", UNREADABLE),
    ("banana", "en", UNREADABLE),
    ("what?", "en", UNREADABLE),
    ("-3", "en", UNREADABLE),
    ("1000", "en", UNREADABLE),
    ("2.5", "en", UNREADABLE),
    ("once a month", "en", UNREADABLE),
    ("3 and then 7", "en", UNREADABLE),
    ("I went 3 times, my son 7", "en", UNREADABLE),
]


@pytest.mark.parametrize("text, language, expected", COUNT_CASES)
def test_parse_count(text, language, expected):
    assert parse_count(text, language) == expected


AGE_CASES = [
    ("45", value(45)),
    ("I'm 45", value(45)),
    ("im 45", value(45)),
    ("45 years old", value(45)),
    ("45 yrs", value(45)),
    ("45yo", value(45)),
    ("45 y/o", value(45)),
    ("forty five", value(45)),
    ("forty-five", value(45)),
    ("I am sixty", value(60)),
    ("0", value(0)),
    ("130", value(130)),
    ("6 months", value(0)),
    ("tengo 45 años", value(45)),
    ("cuarenta y cinco", value(45)),
    ("not sure", UNSURE),
    ("131", UNREADABLE),
    ("200", UNREADABLE),
    ("-5", UNREADABLE),
    ("born in 1979", UNREADABLE),
    ("old", UNREADABLE),
    ("", UNREADABLE),
    ("45 or 46", UNREADABLE),
]


@pytest.mark.parametrize("text, expected", AGE_CASES)
def test_parse_age(text, expected):
    assert parse_age(text) == expected


MONEY_CASES = [
    ("$2,500", "en", value(2500.0)),
    ("2500 dollars", "en", value(2500.0)),
    ("2,500", "en", value(2500.0)),
    ("about 3k", "en", value(3000.0)),
    ("$1.5k", "en", value(1500.0)),
    ("3 grand", "en", value(3000.0)),
    ("two thousand", "en", value(2000.0)),
    ("two thousand five hundred dollars", "en", value(2500.0)),
    ("$2,500.50", "en", value(2500.5)),
    ("$0", "en", value(0.0)),
    ("none", "en", value(0.0)),
    ("nothing", "en", value(0.0)),
    ("never used it", "en", value(0.0)),
    ("around $500 in 2022", "en", value(500.0)),
    ("$1000-$2000", "en", value(1000.0, 2000.0)),
    ("2.5", "en", value(2.5)),
    ("dos mil dólares", "es", value(2000.0)),
    ("5 mil", "es", value(5000.0)),
    ("2.500", "es", value(2500.0)),
    ("nada", "es", value(0.0)),
    ("not sure", "en", UNSURE),
    ("a lot", "en", UNSURE),
    ("no sé", "es", UNSURE),
    ("", "en", UNREADABLE),
    ("-500", "en", UNREADABLE),
    ("$50,000,000", "en", UNREADABLE),
    ("some money", "en", UNSURE),
    ("banana", "en", UNREADABLE),
]


@pytest.mark.parametrize("text, language, expected", MONEY_CASES)
def test_parse_money(text, language, expected):
    assert parse_money(text, language) == expected


PLAN_CASES = [
    ("medi-cal", value("medi-cal")),
    ("Medi-Cal", value("medi-cal")),
    ("medical", value("medi-cal")),
    ("medi cal", value("medi-cal")),
    ("MediCal", value("medi-cal")),
    ("medcal", value("medi-cal")),
    ("medicaid", value("medi-cal")),
    ("HPSM Medi-Cal", value("medi-cal")),
    ("I have medi-cal with a Kaiser doctor", value("medi-cal")),
    ("tengo Medi-Cal", value("medi-cal")),
    ("careadvantage", value("careadvantage")),
    ("CareAdvantage", value("careadvantage")),
    ("care advantage", value("careadvantage")),
    ("care advantge", value("careadvantage")),
    ("cal mediconnect", value("careadvantage")),
    ("Cal MediConnect", value("careadvantage")),
    ("mediconect", value("careadvantage")),
    ("medicare", value("careadvantage")),
    ("medicar", UNREADABLE),
    ("both, I'm in CareAdvantage", value("careadvantage")),
    ("no, medicare", value("careadvantage")),
    ("not a member", value("none")),
    ("I'm not a member", value("none")),
    ("no", value("none")),
    ("none", value("none")),
    ("neither", value("none")),
    ("I don't have hpsm", value("none")),
    ("I don't have medi-cal", value("none")),
    ("I have Blue Shield through work", value("none")),
    ("no soy miembro", value("none")),
    ("kaiser only", UNSURE),
    ("kaiser", UNSURE),
    ("medi-cal and medicare", UNSURE),
    ("not sure", UNSURE),
    ("no sé", UNSURE),
    ("hpsm", UNSURE),
    ("yes", UNREADABLE),
    ("", UNREADABLE),
    ("banana", UNREADABLE),
]


@pytest.mark.parametrize("text, expected", PLAN_CASES)
def test_parse_plan(text, expected):
    assert parse_plan(text) == expected


PHONE_CASES = [
    ("650 555 1234", "+16505551234"),
    ("(650)555-1234", "+16505551234"),
    ("(650) 555-1234", "+16505551234"),
    ("+1 650-555-1234", "+16505551234"),
    ("+16505551234", "+16505551234"),
    ("1-650-555-1234", "+16505551234"),
    ("16505551234", "+16505551234"),
    ("6505551234", "+16505551234"),
    ("650.555.1234", "+16505551234"),
    ("my number is 650-555-1234 thanks", "+16505551234"),
    ("call me at (415) 555 0199 after 5", "+14155550199"),
    ("123 456 7890", None),  # area code cannot start with 1
    ("050 555 1234", None),  # nor with 0
    ("911 555 1234", None),  # N11 codes are service codes
    ("650 123 4567", None),  # exchange cannot start with 1
    ("555-1234", None),
    ("650555123", None),
    ("26505551234", None),
    ("+44 20 7946 0958", None),
    ("", None),
    ("no phone", None),
]


@pytest.mark.parametrize("text, expected", PHONE_CASES)
def test_parse_phone(text, expected):
    assert parse_phone(text) == expected


def test_parse_phone_rejects_other_regions():
    with pytest.raises(ValueError, match="unsupported region"):
        parse_phone("650 555 1234", default_region="GB")


TODAY = date(2025, 6, 1)

DATE_CASES = [
    ("03/14/1975", date(1975, 3, 14)),
    ("3/14/1975", date(1975, 3, 14)),
    ("3-14-75", date(1975, 3, 14)),
    ("3.14.1975", date(1975, 3, 14)),
    ("1975-03-14", date(1975, 3, 14)),
    ("14/03/1975", date(1975, 3, 14)),
    ("03141975", date(1975, 3, 14)),
    ("March 14 1975", date(1975, 3, 14)),
    ("march 14, 1975", date(1975, 3, 14)),
    ("Mar 14th 1975", date(1975, 3, 14)),
    ("14 March 1975", date(1975, 3, 14)),
    ("14th of March, 1975", date(1975, 3, 14)),
    ("14 de marzo de 1975", date(1975, 3, 14)),
    ("14 de marzo 1975", date(1975, 3, 14)),
    ("Febuary 2 1980", date(1980, 2, 2)),
    ("born on 7/4/05", date(2005, 7, 4)),
    ("7/4/30", date(1930, 7, 4)),
    ("1/1/1900", date(1900, 1, 1)),
    ("3/14/2030", None),  # future
    ("1/1/1880", None),  # older than 130
    ("2/30/1990", None),  # no such day
    ("march 14", None),  # no year
    ("13/13/1975", None),
    ("", None),
    ("yesterday", None),
]


@pytest.mark.parametrize("text, expected", DATE_CASES)
def test_parse_date_of_birth(text, expected):
    assert parse_date_of_birth(text, TODAY) == expected


def test_date_of_birth_day_first_in_spanish():
    assert parse_date_of_birth("03/04/1975", TODAY, language="es") == date(1975, 4, 3)
    assert parse_date_of_birth("03/04/1975", TODAY) == date(1975, 3, 4)


MEMBER_ID_CASES = [
    ("AB1234567", "AB1234567"),
    ("ab1234567", "AB1234567"),
    ("my id is X12345678", "X12345678"),
    ("ab12 3456 7", "AB1234567"),
    ("AB-1234-567", "AB1234567"),
    ("6505551234", None),  # digits only: a phone number, not an ID
    ("ABCDEFGHIJ", None),  # letters only
    ("A123456", None),  # too short
    ("AB12345678901", None),  # too long
    ("", None),
]


@pytest.mark.parametrize("text, expected", MEMBER_ID_CASES)
def test_parse_member_id(text, expected):
    assert parse_member_id(text) == expected


def test_member_id_pattern_is_a_regex_string():
    assert isinstance(MEMBER_ID_PATTERN, str)


LANGUAGE_CASES = [
    ("english", "en"),
    ("English please", "en"),
    ("inglés", "en"),
    ("spanish", "es"),
    ("Español", "es"),
    ("espanol", "es"),
    ("in spanish please", "es"),
    ("spansh", "es"),
    ("chinese", "zh"),
    ("Mandarin", "zh"),
    ("中文", "zh"),
    ("cantonese", "yue"),
    ("tagalog", "tl"),
    ("filipino", "tl"),
    ("russian", "ru"),
    ("vietnamese", "vi"),
    ("ASL", "ase"),
    ("russian or english", "ru"),
    ("", None),
    ("whatever", None),
]


@pytest.mark.parametrize("text, expected", LANGUAGE_CASES)
def test_parse_language(text, expected):
    assert parse_language(text) == expected


@pytest.mark.parametrize(
    "phone, expected",
    [("+16505551234", "1234"), ("650-555-9876", "9876"), ("12", ""), ("", "")],
)
def test_last_four(phone, expected):
    assert last_four(phone) == expected


def test_answer_is_value():
    assert value(3).is_value
    assert not UNSURE.is_value
    assert not UNREADABLE.is_value


@pytest.mark.parametrize(
    "text", ["1-900-555-1234", "(976) 555-1234", "800 555 1234", "888-555-0100"]
)
def test_phone_premium_and_toll_free_rejected(text):
    assert parse_phone(text) is None
