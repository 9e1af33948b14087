import pytest

from bot.handoff import detail_to_fix, read_name, summary_values


@pytest.mark.parametrize(
    "text, name",
    [
        ("Ottoline Brackett", "Ottoline Brackett"),
        ("Mary-Jane O'Neil", "Mary-Jane O'Neil"),
        ("my name is Maria Lopez", "Maria Lopez"),
        ("Me llamo José Núñez.", "José Núñez"),
        ("J. R. Ewing", "J. R. Ewing"),
        ("what is ecm?", None),
        ("can someone call me", None),
        ("650 555 1234", None),
        ("Maria 2", None),
        ("my name is", None),
        ("a", None),
        ("", None),
        ("one two three four five six seven", None),
    ],
)
def test_read_name(text, name):
    assert read_name(text) == name


@pytest.mark.parametrize(
    "text, entities, slot",
    [
        ("fix my phone", [], "handoff_phone"),
        ("wrong number", [], "handoff_phone"),
        ("change the name", [], "handoff_name"),
        ("the time is wrong", [], "handoff_call_time"),
        ("", [{"entity": "detail", "value": "member_id"}], "handoff_member_id"),
        ("yes", [], None),
    ],
)
def test_detail_to_fix(text, entities, slot):
    assert detail_to_fix(text, entities) == slot


def test_summary_shows_only_last_four_and_masked_id():
    slots = {
        "handoff_name": "Ana Ruiz",
        "handoff_member_id": "id:AB12345678",
        "handoff_language": "es",
        "handoff_call_time": "mornings",
    }
    values = summary_values(slots, "+16505551234")
    assert values["phone_last_four"] == "1234"
    assert "5551234" not in str(values)
    assert "AB12345678" not in str(values)
    assert values["member_id_display"].endswith("678")
    assert values["language_display"] == "Spanish"


def test_summary_with_date_of_birth_hides_the_date():
    values = summary_values({"handoff_member_id": "dob:1975-03-14"}, None)
    assert "1975" not in str(values)
    assert values["phone_last_four"] == "----"
