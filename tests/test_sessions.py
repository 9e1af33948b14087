import pytest

from bot.sessions import (
    REST_PURPOSE,
    WEBCHAT_PURPOSE,
    InvalidSession,
    SessionExpired,
    issue_session_token,
    sms_conversation_id,
    verify_session_token,
)

SECRET = "test-secret"


def test_issued_token_verifies_to_its_conversation():
    token = issue_session_token(SECRET)
    conversation_id = verify_session_token(SECRET, token)
    assert conversation_id.startswith("web-")
    assert token.startswith(conversation_id + ".")


def test_tokens_are_unique():
    tokens = {issue_session_token(SECRET) for _ in range(200)}
    assert len(tokens) == 200


@pytest.mark.parametrize(
    "token",
    [
        None,
        "",
        "web-abc",
        "default",
        "web-abc.99999999999.deadbeef",
        "sms-abc.99999999999.deadbeef",
        "x" * 500,
        123,
    ],
)
def test_forged_or_malformed_token_rejected(token):
    with pytest.raises(InvalidSession):
        verify_session_token(SECRET, token)


def test_token_from_another_secret_rejected():
    token = issue_session_token("another-secret")
    with pytest.raises(InvalidSession):
        verify_session_token(SECRET, token)


def test_tampered_conversation_id_rejected():
    conversation_id, expires, signature = issue_session_token(SECRET).split(".")
    forged = f"{conversation_id[:-1]}Q.{expires}.{signature}"
    with pytest.raises(InvalidSession):
        verify_session_token(SECRET, forged)


def test_expired_token_rejected():
    token = issue_session_token(SECRET, ttl_seconds=10, now=1_000)
    assert verify_session_token(SECRET, token, now=1_005).startswith("web-")
    with pytest.raises(SessionExpired, match="expired"):
        verify_session_token(SECRET, token, now=1_011)


def test_forged_token_not_reported_expired():
    token = issue_session_token(SECRET, ttl_seconds=10, now=1_000)
    forged = token[:-1] + ("0" if token[-1] != "0" else "1")
    with pytest.raises(InvalidSession) as raised:
        verify_session_token(SECRET, forged, now=1_011)
    assert not isinstance(raised.value, SessionExpired)


def test_sms_pseudonym_hides_number_and_is_stable():
    first = sms_conversation_id(SECRET, "+16505551234")
    assert first == sms_conversation_id(SECRET, "+16505551234")
    assert "6505551234" not in first
    assert first != sms_conversation_id(SECRET, "+16505551235")
    assert first != sms_conversation_id("other", "+16505551234")


def test_webchat_token_rejected_for_rest():
    token = issue_session_token(SECRET, purpose=WEBCHAT_PURPOSE)
    assert verify_session_token(SECRET, token, purpose=WEBCHAT_PURPOSE)
    with pytest.raises(InvalidSession, match="signature"):
        verify_session_token(SECRET, token)
    with pytest.raises(InvalidSession, match="signature"):
        verify_session_token(SECRET, token, purpose=REST_PURPOSE)


def test_rest_token_rejected_for_webchat():
    token = issue_session_token(SECRET)
    assert verify_session_token(SECRET, token, purpose=REST_PURPOSE)
    with pytest.raises(InvalidSession, match="signature"):
        verify_session_token(SECRET, token, purpose=WEBCHAT_PURPOSE)


def test_fresh_token_keeps_conversation():
    old = issue_session_token(SECRET, ttl_seconds=60, now=1_000, purpose=WEBCHAT_PURPOSE)
    conversation_id = verify_session_token(
        SECRET, old, now=1_010, purpose=WEBCHAT_PURPOSE
    )
    fresh = issue_session_token(
        SECRET,
        ttl_seconds=60,
        now=1_050,
        purpose=WEBCHAT_PURPOSE,
        conversation_id=conversation_id,
    )
    assert fresh != old
    assert (
        verify_session_token(SECRET, fresh, now=1_100, purpose=WEBCHAT_PURPOSE)
        == conversation_id
    )
    with pytest.raises(InvalidSession, match="expired"):
        verify_session_token(SECRET, old, now=1_100, purpose=WEBCHAT_PURPOSE)


@pytest.mark.parametrize("conversation_id", ["sms-abc", "web-a.b", "default"])
def test_fresh_token_for_non_web_id_raises(conversation_id):
    with pytest.raises(ValueError, match="not a web conversation id"):
        issue_session_token(SECRET, conversation_id=conversation_id)


def test_unknown_purpose_raises():
    with pytest.raises(ValueError, match="unknown token purpose"):
        issue_session_token(SECRET, purpose="sms")
