"""Encrypted, authenticated cookies for the coordinator workspace.

A cookie value is AES-GCM ciphertext of a small JSON object. The key is
derived from `APP_SECRET` with HKDF-SHA256 and a purpose label. A value
sealed for the sign-in session therefore cannot be replayed as the sign-in
form's CSRF cookie, and no other part of the product shares the key.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

logger = logging.getLogger(__name__)

SESSION_PURPOSE = "hpsm workspace session v1"
LOGIN_FORM_PURPOSE = "hpsm workspace login form v1"
CONFLICT_DRAFT_PURPOSE = "hpsm workspace conflict draft v1"
NONCE_BYTES = 12
# Browsers keep at most about 4 KB a cookie (RFC 6265 section 6.1 asks for at
# least 4096 bytes of name, value and attributes). A sign-in form carrying a
# draft note comes closest; anything longer is not ours and is rejected
# before decryption.
MAX_COOKIE_CHARS = 3800


def derive_key(app_secret: str, purpose: str) -> bytes:
    """Derive a 256-bit key for `purpose` from the application secret.

    Args:
        app_secret: `APP_SECRET` from the settings.
        purpose: A label that separates the keys of different cookies.

    Returns:
        32 bytes of key material.
    """
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=purpose.encode("utf-8"),
    )
    return hkdf.derive(app_secret.encode("utf-8"))


class CookieSealer:
    """Seal and open cookie values for one purpose.

    Args:
        app_secret: `APP_SECRET` from the settings.
        purpose: A label such as `SESSION_PURPOSE`; it is also bound into
            each value as associated data.
    """

    def __init__(self, app_secret: str, purpose: str) -> None:
        self._aead = AESGCM(derive_key(app_secret, purpose))
        self._associated_data = purpose.encode("utf-8")

    def seal(self, payload: dict[str, Any]) -> str:
        """Encrypt `payload` into a URL-safe cookie value."""
        nonce = os.urandom(NONCE_BYTES)
        plaintext = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        ciphertext = self._aead.encrypt(nonce, plaintext, self._associated_data)
        return base64.urlsafe_b64encode(nonce + ciphertext).decode("ascii").rstrip("=")

    def open(self, value: str | None) -> dict[str, Any] | None:
        """Decrypt a cookie value sealed by `seal`.

        Returns:
            The payload, or None when the value is missing, malformed,
            tampered with or sealed with another key or purpose.
        """
        if not value or len(value) > MAX_COOKIE_CHARS:
            return None
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        except (binascii.Error, ValueError):
            return None
        if len(raw) <= NONCE_BYTES:
            return None
        nonce, ciphertext = raw[:NONCE_BYTES], raw[NONCE_BYTES:]
        try:
            plaintext = self._aead.decrypt(nonce, ciphertext, self._associated_data)
        except InvalidTag:
            logger.info("Rejected a workspace cookie that failed authentication")
            return None
        try:
            payload = json.loads(plaintext)
        except ValueError:
            return None
        return payload if isinstance(payload, dict) else None
