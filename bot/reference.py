"""Reference codes that members read back to staff, such as `HP-7KQ4MX`.

The alphabet leaves out characters that are easy to confuse when read aloud,
written down or shown in a small font: 0 and O, 1, I and L, 5 and S, 2 and Z,
8 and B, U and V.
"""

from __future__ import annotations

import re
import secrets

PREFIX = "HP-"
CODE_LENGTH = 6
ALPHABET = "34679ACDEFGHJKMNPQRTWXY"

_SEPARATORS = re.compile(r"[\s\-_.]+")
_CODE = re.compile(f"[{ALPHABET}]{{{CODE_LENGTH}}}")


def new_reference() -> str:
    """Generate a random reference code from the `secrets` generator.

    Returns:
        `HP-` followed by six characters of `ALPHABET` (about 1.5e8 codes),
        so callers must still retry on a unique-constraint collision.
    """
    code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return PREFIX + code


def normalize_reference(text: str) -> str | None:
    """Convert a reference code as a member typed it to the stored form.

    Case, spaces, dashes, dots and underscores are ignored, and the `HP`
    prefix is optional, so "hp 7kq 4mx" and "7KQ-4MX" both give `HP-7KQ4MX`.

    Args:
        text: The code as typed.

    Returns:
        The code in the stored form, or None when `text` cannot be a
        reference code (wrong length or a character outside `ALPHABET`).
    """
    compact = _SEPARATORS.sub("", text or "").upper()
    if len(compact) == CODE_LENGTH + 2 and compact.startswith("HP"):
        compact = compact[2:]
    if not _CODE.fullmatch(compact):
        return None
    return PREFIX + compact
