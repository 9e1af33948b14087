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
    "text, name",
    [
        ("Test Person", "Test Person"),
        ("Bob", "Bob"),
        ("Call me Bob", "Bob"),
        ("Llámeme Roberto", "Roberto"),
        ("llameme Roberto por favor", "Roberto"),
        ("Díganme Lupita", "Lupita"),
        ("you can call me Bob", "Bob"),
        ("Call me Bob please", "Bob"),
        ("Bob, please", "Bob"),
        ("my name is María José", "María José"),
        ("I'm Nguyen Van A", "Nguyen Van A"),
        ("I\u2019m Nguyen Van A", "Nguyen Van A"),
        ("i am Ana", "Ana"),
        ("Hi, I'm Bob", "Bob"),
        ("yes, my name is Ana Ruiz", "Ana Ruiz"),
        ("Sure, call me Bob.", "Bob"),
        ("soy Lupita", "Lupita"),
        ("me dicen Chuy", "Chuy"),
        ("mi nombre es Ana", "Ana"),
        ("Mrs. Smith", "Mrs. Smith"),
        ("Mary-Jane O\u2019Neil", "Mary-Jane O\u2019Neil"),
        # Names that share a word with a reply or a question.
        ("Will Smith", "Will Smith"),
        ("Can Yilmaz", "Can Yilmaz"),
        ("Do Thi Lan", "Do Thi Lan"),
        ("To Thi Lan", "To Thi Lan"),
        ("Nguyen Thi My", "Nguyen Thi My"),
        ("No Hyun", "No Hyun"),
        ("Maria Claro", "Maria Claro"),
        ("Si Tran", "Si Tran"),
        ("María de la Cruz", "María de la Cruz"),
    ],
)
def test_read_name_accepts_name(text, name):
    assert read_name(text) == name


@pytest.mark.parametrize(
    "text",
    [
        # Replies that answer the question but give no name.
        "yes",
        "Yes!",
        "yeah",
        "no",
        "No thanks",
        "no thank you",
        "ok",
        "okay",
        "sure",
        "skip",
        "skip it",
        "pass",
        "none",
        "nothing",
        "I don't know",
        "I don\u2019t know",
        "idk",
        "maybe later",
        "cancel",
        "never mind",
        "thanks",
        "hello",
        "prefer not to say",
        "sí",
        "si",
        "Sí.",
        "vale",
        "claro",
        "omitir",
        "no sé",
        "no se",
        "ninguno",
        "nadie",
        "no gracias",
        "cancelar",
        "olvídalo",
        # Lead-ins with nothing after them, or with a reply after them.
        "call me",
        "call me tomorrow",
        "call me back",
        "call me please",
        "I'm good",
        "I am not sure",
        # Sentences and questions.
        "I want someone to call me",
        "talk to a person",
        "I need help with housing",
        "will someone call me",
        "do you speak spanish",
        "not telling",
        "none of your business",
        "no quiero dar mi nombre",
        "necesito ayuda",
        "why do you need it",
        "Who is this",
    ],
)
def test_read_name_rejects_reply(text):
    assert read_name(text) is None


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
