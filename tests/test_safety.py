"""Tests for the crisis rule layer in bot/safety.py.

Every row of the main crisis table must be caught with the right language and
category, and every row of the second hold-out must be caught. The false-alarm
rate on ordinary messages must stay under 5%.

The blind table (tests/data/crisis_holdout_blind.yml) was written by someone
who never saw the rules. Its DEV half (even positions) was used to tune the
rules, so every DEV crisis row must be caught. Its TEST half (odd positions) is
only measured: recall and false alarms must stay at the floors below, set just
under the values measured when the rules were frozen. Those tests report
counts, not texts, so a failure does not invite tuning on TEST rows.
"""

from __future__ import annotations

import dataclasses
import shutil

import pytest

from bot import safety
from bot.safety import CATEGORIES, CrisisMatch, detect_crisis, judge_language

CRISIS_ROWS = safety.load_table(safety.CRISIS_TABLE, "phrasings")
HOLDOUT_ROWS = safety.load_table(safety.CRISIS_TABLE, "holdout")
ORDINARY_ROWS = safety.load_table(safety.ORDINARY_TABLE, "messages")
BLIND = safety.load_blind()
MAX_FALSE_ALARM_RATE = 0.05
# Measured at the freeze: DEV 0/78 false alarms; TEST 66/74 caught (89.2%)
# and 4/77 false alarms (5.2%).
MAX_DEV_FALSE_ALARM_RATE = 0.02
MIN_TEST_RECALL = 0.88
MAX_TEST_FALSE_ALARM_RATE = 0.06


def test_tables_are_big_enough():
    assert len(CRISIS_ROWS) >= 150
    assert len(ORDINARY_ROWS) >= 200
    assert 25 <= len(HOLDOUT_ROWS) <= 40


@pytest.mark.parametrize(
    "rows",
    [CRISIS_ROWS, HOLDOUT_ROWS, ORDINARY_ROWS, *BLIND.values()],
    ids=["main", "holdout", "ordinary", *BLIND],
)
def test_tables_cover_both_languages(rows):
    languages = {row["language"] for row in rows}
    assert languages == {"en", "es"}


@pytest.mark.parametrize(
    "rows",
    [CRISIS_ROWS, HOLDOUT_ROWS, BLIND["dev_crisis"], BLIND["test_crisis"]],
    ids=["main", "holdout", "dev", "test"],
)
def test_crisis_tables_use_known_categories(rows):
    for row in rows:
        assert row["category"] in CATEGORIES, row


def test_main_table_covers_every_category():
    assert {row["category"] for row in CRISIS_ROWS} == set(CATEGORIES)


@pytest.mark.parametrize("row", CRISIS_ROWS, ids=lambda row: row["text"][:40])
def test_crisis_phrasing_caught(row):
    found = detect_crisis(row["text"])
    assert found is not None, f"missed: {row['text']!r}"
    assert found.language == row["language"]
    assert found.category == row["category"], found.rule


@pytest.mark.parametrize("row", HOLDOUT_ROWS, ids=lambda row: row["text"][:40])
def test_holdout_phrasing_caught(row):
    assert detect_crisis(row["text"]) is not None, f"missed: {row['text']!r}"


def test_false_alarm_rate_under_limit():
    alarms = [row["text"] for row in ORDINARY_ROWS if detect_crisis(row["text"])]
    rate = len(alarms) / len(ORDINARY_ROWS)
    assert rate < MAX_FALSE_ALARM_RATE, alarms


# --- blind table ---------------------------------------------------------------


def test_blind_split_alternates_rows():
    for kind in ("crisis", "ordinary"):
        rows = safety.load_table(safety.BLIND_TABLE, kind)
        dev, test = BLIND[f"dev_{kind}"], BLIND[f"test_{kind}"]
        assert dev == rows[0::2]
        assert test == rows[1::2]
        assert len(dev) + len(test) == len(rows)


def test_blind_table_sizes():
    assert len(BLIND["dev_crisis"]) == 75
    assert len(BLIND["test_crisis"]) == 74
    assert len(BLIND["dev_ordinary"]) == 78
    assert len(BLIND["test_ordinary"]) == 77


@pytest.mark.parametrize(
    "row", BLIND["dev_crisis"], ids=lambda row: row["text"][:40]
)
def test_blind_dev_crisis_caught(row):
    assert detect_crisis(row["text"]) is not None, f"missed: {row['text']!r}"


def test_blind_dev_false_alarms_under_limit():
    rows = BLIND["dev_ordinary"]
    alarms = [row["text"] for row in rows if detect_crisis(row["text"])]
    assert len(alarms) / len(rows) <= MAX_DEV_FALSE_ALARM_RATE, alarms


def test_blind_test_recall_floor():
    rows = BLIND["test_crisis"]
    caught = sum(1 for row in rows if detect_crisis(row["text"]) is not None)
    assert caught / len(rows) >= MIN_TEST_RECALL, f"{caught}/{len(rows)} caught"


def test_blind_test_false_alarm_ceiling():
    rows = BLIND["test_ordinary"]
    alarms = sum(1 for row in rows if detect_crisis(row["text"]) is not None)
    assert alarms / len(rows) <= MAX_TEST_FALSE_ALARM_RATE, f"{alarms}/{len(rows)}"


# Borderline wordings and the documented decision for each (None: no alarm).
BORDERLINE_CASES = [
    ("kill time", None),
    ("I'm just trying to kill time", None),
    ("this form is killing me", None),
    ("my back is killing me", None),
    ("meals for my diabetes", None),
    ("nursing home", None),
    ("my mom wants out of the nursing home", None),
    ("I was in the ER 7 times", None),
    ("housing deposit", None),
    ("stop smoking", None),
    ("I had a stroke in 2019", None),
    ("tuve un infarto hace dos años", None),
    ("my rent is overdue", None),
    ("I'll shoot you an email", None),
    ("my phone is going to die", None),
    ("I don't want to live there anymore", None),
    ("no quiero vivir en el asilo", None),
    ("no estoy segura", None),
    ("me corté el pelo", None),
    ("took 2 tylenol for my headache", None),
    ("I took all my pills as prescribed", None),
    ("¿puede contarme más?", None),
    ("I called 911 twice last year", None),
    # denied, clearly past, or a program question
    ("my brother died by suicide last year", None),
    ("is suicide prevention covered?", None),
    ("my son overdosed last year", None),
    ("no overdoses", None),
    ("never overdosed", None),
    ("no he tenido sobredosis", None),
    ("I'm not suicidal", None),
    ("i overdosed once in 2019, been sober since", None),
    ("tuve una sobredosis en 2020, ya estoy limpio", None),
    ("i had chest pain last month and it was anxiety", None),
    ("i cut myself in high school", None),
    ("he hit me last year", None),
    ("is there a suicide prevention support group", None),
    ("do you offer overdose prevention training", None),
    ("do you cover narcan", None),
    ("¿cubren la naloxona?", None),
    ("am i at risk of overdose?", None),
    ("no, my doctor never said I'm at risk of overdose", None),
    ("my landlord is killing me with these rent increases", None),
    ("my meds are ready for pickup at the pharmacy", None),
    ("my sugar is 120", None),
    ("i had a seizure disorder as a kid", None),
    # deliberate alarms
    ("I hurt myself falling down the stairs", "self_harm"),
    ("i overdosed last night", "overdose"),
    ("i overdosed last year and again tonight", "overdose"),
    ("i overdosed in 2019 and my friend is overdosing", "overdose"),
    ("my son overdosed last year and now he is using again", "overdose"),
    ("i took 30 pills 2 days ago", "overdose"),
    ("i want to die, i tried in 2019", "suicide"),
    ("not suicidal right now", "suicide"),
    ("where can i get narcan right now", "overdose"),
    ("what is an overdose", "overdose"),
    ("creo que es una sobredosis", "overdose"),
    ("i'm at risk of overdose", "overdose"),
    ("i can't stop thinking about suicide", "suicide"),
    ("my husband is killing me", "violence"),
    ("my mom is going to kill me if I miss the appointment", "violence"),
    ("just kill me now", "suicide"),
    ("I can't do this anymore", "suicide"),
    ("ya no puedo más", "suicide"),
    ("I have chest pain sometimes", "medical_emergency"),
    ("I think I'm having a stroke", "medical_emergency"),
    ("took 30 tylenol", "overdose"),
]


@pytest.mark.parametrize("text, expected", BORDERLINE_CASES)
def test_borderline_decision(text, expected):
    found = detect_crisis(text)
    assert (found.category if found else None) == expected


# One or more wordings per concept, written for these tests (none is a row of
# the blind table).
CONCEPT_CASES = [
    # large or whole quantities, number words, drug names
    ("swallowed like forty of my seroquel", "overdose"),
    ("took a hundred tylenol an hour ago", "overdose"),
    ("downed the whole bottle of my mom's lorazepam", "overdose"),
    ("me tomé todo el frasco de clonazepam", "overdose"),
    ("me tomé un frasco entero", "overdose"),
    ("mixed xanax with vodka", "overdose"),
    ("tomé pastillas con tequila", "overdose"),
    ("i used more than i usually do and i can't feel my arms", "medical_emergency"),
    ("i ate a whole sheet of my sleeping pills", "overdose"),
    # means ready, farewells, wishes
    ("my pills are all lined up", "suicide"),
    ("tengo las pastillas contadas en la mesa", "suicide"),
    ("i've been saving up my meds for this", "suicide"),
    ("this is goodbye, tell my kids i love them", "suicide"),
    ("goodbye everyone, thank you for trying", "suicide"),
    ("this is my final message", "suicide"),
    ("les dejo una carta de despedida a mis hijos", "suicide"),
    ("everybody will be better off without me", "suicide"),
    ("mi familia estaría mejor sin mí", "suicide"),
    ("i'm so tired of being alive", "suicide"),
    ("estoy cansado de estar vivo", "suicide"),
    ("i'm a burden to everyone", "suicide"),
    ("wont need my stuff where im going", "suicide"),
    ("no quiero seguir en este mundo", "suicide"),
    ("ya le veo sin sentido, no le veo sentido a la vida", "suicide"),
    # bridges, trains, ledges, third parties
    ("i'm standing on the bridge", "suicide"),
    ("estoy en el puente y quiero saltar", "suicide"),
    ("gonna step in front of a bus", "suicide"),
    ("going to walk into traffic", "suicide"),
    ("he's threatening to jump", "suicide"),
    ("mi hermana dice que se va a matar", "suicide"),
    ("i have a gun and i'm thinking of using it on myself", "suicide"),
    # self-harm
    ("i keep scratching until i bleed", "self_harm"),
    ("burned myself with a lighter on purpose", "self_harm"),
    ("relapsed on sh last night", "self_harm"),
    ("sh urges are really bad tonight", "self_harm"),
    ("my daughter is cutting her arms", "self_harm"),
    ("mi hijo se está quemando los brazos", "self_harm"),
    ("me corté muy profundo", "self_harm"),
    ("i carved words into my leg", "self_harm"),
    # weapons, attacks, break-ins
    ("my husband has a knife and is coming at me", "violence"),
    ("there's a guy outside my tent with a machete", "violence"),
    ("got shot in the leg, blood everywhere", "violence"),
    ("me dieron un balazo", "violence"),
    ("me voy a pegar un tiro", "suicide"),
    ("quiero darme un balazo", "suicide"),
    ("ya me quiero dar un tiro", "suicide"),
    ("lo acuchillaron afuera del refugio", "violence"),
    ("mi ex está pateando la puerta", "violence"),
    ("someone is trying to break into my room right now", "violence"),
    ("i'm going to beat the hell out of him", "violence"),
    # medical emergencies
    ("he's nodding out and i cant wake him", "medical_emergency"),
    ("she won't wake up and her lips are purple", "medical_emergency"),
    ("no puedo despertar a mi hermano", "medical_emergency"),
    ("my son is having a seizure and it wont stop", "medical_emergency"),
    ("HE'S HAVING A SIEZURE", "medical_emergency"),
    ("my throat feels tight and my tongue is swelling", "medical_emergency"),
    ("se me está cerrando la garganta", "medical_emergency"),
    ("my blood sugar is 35 and i'm confused", "medical_emergency"),
    ("mi azúcar está en 40 y estoy temblando", "medical_emergency"),
    ("i'm 20 weeks pregnant and bleeding heavily", "medical_emergency"),
    ("estoy embarazada y estoy sangrando mucho", "medical_emergency"),
    ("worst headache of my life came on suddenly", "medical_emergency"),
    ("tengo el peor dolor de cabeza de mi vida", "medical_emergency"),
    ("i'm bleeding and i can't stop it", "medical_emergency"),
    ("estoy sangrando", "medical_emergency"),
    ("grandma is slurring and can't lift her arm", "medical_emergency"),
    ("my 2 year old swallowed some pills", "medical_emergency"),
    ("i just got hit by a car", "medical_emergency"),
    ("there's a fire in my building", "medical_emergency"),
]

# Ordinary wordings close to the new rules; none may raise an alarm.
CONCEPT_NEAR_MISSES = [
    "goodbye, thanks for the help",
    "adiós, gracias",
    "mis medicinas ya están listas en la farmacia",
    "the new cuts to medi-cal scare me",
    "my blood sugar was 300 this morning",
    "i gave away my old couch when i moved",
    "we live near the bridge",
    "the bus stop in front of the shelter is closed",
    "i got my flu shot yesterday",
    "i'm sober now, 2 years after my last overdose",
    "never tried to hurt myself",
    "nunca me he cortado",
    "i overdosed twice in the past year",
    "i was stabbed in 2015",
    "my son has seizures, does he qualify for ECM",
    "i used to cut, been clean for years",
    "i cut myself as a teen but i'm okay now",
    "i left my abusive ex years ago",
    "is there a domestic violence support group",
    "where can i find a support group for overdose survivors",
    "my caseworker is not responding to my emails",
    "my landlord isn't responding",
    "i didn't get your last message",
    "sorry for my last text",
    "estoy cansada de vivir en la calle",
    "my gums are bleeding when i brush",
    "me corté el dedo cocinando",
    "se cortó la luz en mi casa",
    "my daughter has new scratches from the cat",
    "i'm on the edge of losing my apartment",
    "i could sleep forever lol",
    "i take my meds with food",
    "tomo mis pastillas con agua",
    "el jugador va a dar un tiro a la portería",
    "voy a darme una vuelta por la clínica",
]


@pytest.mark.parametrize("text, expected", CONCEPT_CASES)
def test_concept_caught(text, expected):
    found = detect_crisis(text)
    assert found is not None, f"missed: {text!r}"
    assert found.category == expected, found.rule


@pytest.mark.parametrize("text", CONCEPT_NEAR_MISSES)
def test_concept_near_miss_quiet(text):
    found = detect_crisis(text)
    assert found is None, found


@pytest.mark.parametrize(
    "text, expected",
    [
        ("took thirty tylenol", "overdose"),
        ("tomé treinta pastillas", "overdose"),
        ("took 30 of my trazodone", "overdose"),
        ("swallowed 20 of my quetiapine", "overdose"),
        ("my sugar is 40", "medical_emergency"),
        ("my sugar is 450", "medical_emergency"),
    ],
)
def test_numbers_and_drug_names(text, expected):
    found = detect_crisis(text)
    assert found is not None
    assert found.category == expected


# A colour word is a sign of an emergency only about a person or a body part,
# or with a verb of change ("turning blue"), unless a thing is turning.
COLOUR_ALARMS = [
    "my baby is turning blue",
    "his lips are blue",
    "she's turning purple",
    "my dad's face is gray",
    "he is purple",
    "the baby looks blue",
    "her skin is grey",
    "he went blue",
    "turning blue and can't talk",
    "my friend is turning blue after using",
    "her fingers are turning blue",
    "my son's lips look gray",
    "my dad's hair is gray and he's turning blue",
    "mi bebé se está poniendo morado",
    "mi hijo está morado",
    "tiene los labios morados",
    "su cara está gris",
    "se puso azul",
    "está morada",
]
COLOUR_ORDINARY = [
    "my secret is purple elephant",
    "my car is blue",
    "my favorite color is purple",
    "the form is blue",
    "my son's favorite color is blue",
    "her dress is purple",
    "his car is grey",
    "the sky is gray today",
    "my hair is turning gray",
    "my hair went grey",
    "the leaves are turning purple",
    "the screen turns blue when i log in",
    "the baby blue one please",
    "her nails are painted purple",
    "el cielo está gris",
    "la forma está azul",
    "mi pelo se está poniendo gris",
    "la pantalla se puso azul",
    "compré unas camisas moradas",
]


@pytest.mark.parametrize("text", COLOUR_ALARMS)
def test_colour_of_person_is_emergency(text):
    found = detect_crisis(text)
    assert found is not None, f"missed: {text!r}"
    assert found.category == "medical_emergency", found.rule


@pytest.mark.parametrize("text", COLOUR_ORDINARY)
def test_colour_of_thing_quiet(text):
    assert detect_crisis(text) is None


@pytest.mark.parametrize(
    "word", ["sertraline", "escitalopram", "mirtazapine", "hydrocodone"]
)
def test_drug_endings_read_as_medication(word):
    assert safety._canonical(word) == "medication"


@pytest.mark.parametrize("word", ["condone", "abandoned", "alcohol", "control"])
def test_ordinary_words_not_read_as_medication(word):
    assert safety._canonical(word) != "medication"


def test_rule_kinds_known():
    for rule in safety.RULES:
        assert rule.kind in (safety.DANGER, safety.REPORT, safety.MENTION), rule.name


@pytest.mark.parametrize(
    "text, expected",
    [
        ("SUICIDE", "suicide"),
        ("suiiiicide", "suicide"),
        ("I WANT TO DIEEEE", "suicide"),
        ("i want to kil mysef", "suicide"),
        ("k1ll mys3lf", "suicide"),
        ("want 2 die", "suicide"),
        ("me kiero matar", "suicide"),
        ("sobredosiss", "overdose"),
        ("kms 😭", "suicide"),
        ("i'll kill u", "violence"),
    ],
)
def test_misspellings_and_slang(text, expected):
    found = detect_crisis(text)
    assert found is not None
    assert found.category == expected


@pytest.mark.parametrize("text", ["", "   ", "hi", "👍", "?", "7"])
def test_no_crisis_in_short_answers(text):
    assert detect_crisis(text) is None


def test_match_holds_no_message_text():
    text = "My name is Rosa and I want to kill myself, call 650 555 1234"
    found = detect_crisis(text)
    assert isinstance(found, CrisisMatch)
    field_names = [field.name for field in dataclasses.fields(found)]
    assert field_names == ["category", "language", "rule"]
    for field_value in dataclasses.astuple(found):
        assert "Rosa" not in field_value
        assert "650" not in field_value


@pytest.mark.parametrize(
    "text, expected",
    [
        ("I want to die", "en"),
        ("quiero morir", "es"),
        ("¿Me puede ayudar?", "es"),
        ("mi esposo me pega", "es"),
        ("my esposo está pegándome", "es"),
        ("kms", "en"),
    ],
)
def test_judge_language(text, expected):
    assert judge_language(text) == expected


def test_detection_survives_pipeline_rebuild(monkeypatch):
    from bot import nlp

    before = nlp.get_nlp("en")
    monkeypatch.setattr(nlp, "MAX_STRINGS", 0)
    rebuilt = nlp.get_nlp("en")
    monkeypatch.undo()
    assert rebuilt is not before
    assert detect_crisis("I want to kill myself").category == "suicide"
    assert detect_crisis("kill time") is None


def test_rule_names_unique():
    names = [rule.name for rule in safety.RULES]
    assert len(names) == len(set(names))


def test_report_lists_measurements():
    results = safety.measure()
    assert results["phrasings"]["caught"] == results["phrasings"]["total"]
    assert results["blind_dev"]["caught"] == results["blind_dev"]["total"]
    assert results["blind_test"]["total"] == 74
    markdown = safety.render_report(results)
    assert "crisis phrasings (main) | recall" in markdown
    assert "crisis phrasings (hold-out) | recall" in markdown
    assert "ordinary messages | false alarms" in markdown
    assert "blind set, DEV half | recall" in markdown
    assert "blind set, TEST half | recall" in markdown
    assert "blind set, TEST half | false alarms" in markdown
    assert "| `overdose` |" in markdown


def test_report_counts_by_category():
    results = safety.measure()
    by_category = results["blind_test"]["by_category"]
    assert sum(total for _, total in by_category.values()) == 74
    assert sum(caught for caught, _ in by_category.values()) == (
        results["blind_test"]["caught"]
    )


def test_write_report_replaces_measured_section(tmp_path):
    copy = tmp_path / "crisis-detection.md"
    shutil.copy(safety.REPORT_DOC, copy)
    safety.write_report("NEW MEASUREMENTS", copy)
    text = copy.read_text(encoding="utf-8")
    start = text.index(safety.REPORT_START)
    end = text.index(safety.REPORT_END)
    assert "NEW MEASUREMENTS" in text[start:end]
    assert text.count(safety.REPORT_START) == 1


def test_write_report_requires_markers(tmp_path):
    document = tmp_path / "plain.md"
    document.write_text("# no markers\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no measured section"):
        safety.write_report("x", document)


def test_main_prints_without_writing(capsys):
    before = safety.REPORT_DOC.read_text(encoding="utf-8")
    assert safety.main([]) == 0
    assert "recall" in capsys.readouterr().out
    assert safety.REPORT_DOC.read_text(encoding="utf-8") == before
