from bot.eligibility import screen
from bot.screening_view import result_responses, services_of_interest

HOMELESS_ADULT = {
    "plan": "medi-cal",
    "age": 40,
    "kaiser_assigned": False,
    "hospice_or_pace": False,
    "unhoused": True,
    "chronic_condition": True,
    "willing_community_supports": True,
    "engaged_with_care_manager": False,
}


def test_not_member_gets_only_the_county_referral():
    result = screen({"plan": "none"})
    assert result_responses(result, None) == ["utter_result_not_member"]


def test_likely_ecm_shows_status_reason_and_offer():
    result = screen(HOMELESS_ADULT)
    responses = result_responses(result, ["ecm"])
    assert responses[0] == "utter_result_intro"
    assert responses[1] == "utter_result_ecm_likely"
    assert "utter_reason_homelessness_met" in responses
    assert responses[-2:] == ["utter_result_disclaimer", "utter_offer_handoff"]
    assert not any("utter_result_cs_" in name for name in responses)


def test_named_service_is_shown_whatever_its_status():
    result = screen({**HOMELESS_ADULT, "home_modification_needed": False})
    responses = result_responses(result, ["home_modifications"])
    assert "utter_result_ecm_likely" not in responses
    status = result["community_supports"]["home_modifications"]["status"]
    assert f"utter_result_cs_home_modifications_{status}" in responses


def test_whole_screening_lists_only_services_member_may_get():
    result = screen(HOMELESS_ADULT)
    responses = result_responses(result, None)
    for service, outcome in result["community_supports"].items():
        shown = any(name.startswith(f"utter_result_cs_{service}_") for name in responses)
        assert shown == (outcome["status"] in ("likely", "needs_review")), service


def test_kaiser_route_has_its_own_response():
    result = screen({"plan": "medi-cal", "kaiser_assigned": True})
    assert "utter_result_ecm_kaiser" in result_responses(result, ["ecm"])


def test_kaiser_route_says_kaiser_once():
    result = screen({"plan": "medi-cal", "kaiser_assigned": True})
    responses = result_responses(result, ["ecm"])

    assert "utter_result_ecm_kaiser" in responses
    assert not [r for r in responses if r.startswith("utter_reason_kaiser")]


def test_services_of_interest_follow_status():
    result = screen(HOMELESS_ADULT)
    chosen = services_of_interest(result, None)
    assert chosen[0] == "ecm"
    for service in chosen[1:]:
        assert result["community_supports"][service]["status"] != "unlikely"


def test_unlikely_ecm_explains_the_failed_rule_first():
    result = screen({"plan": "medi-cal", "age": 19})
    responses = result_responses(result, ["ecm"])
    reasons = [name for name in responses if name.startswith("utter_reason_")]
    assert result["ecm"]["status"] == "unlikely" or reasons
    if result["ecm"]["status"] == "unlikely":
        assert reasons[0].endswith("_not_met")


def test_service_reason_prefers_its_own_condition():
    result = screen({**HOMELESS_ADULT, "engaged_with_care_manager": True})
    responses = result_responses(result, ["housing_deposits"])
    reasons = [name for name in responses if name.startswith("utter_reason_")]
    assert reasons
    assert "willing_community_supports" not in reasons[0]
    assert "engaged_with_care_manager" not in reasons[0]
