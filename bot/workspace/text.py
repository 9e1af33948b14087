"""Clean free text that staff or API clients store through the workspace.

Notes, display names and token names are shown on pages and in CSV files,
so characters that change how text around them reads are removed before
storing: C0 and C1 control characters (except newline and tab), and the
Unicode bidirectional embedding, override and isolate characters, which can
make a note read backwards ("Trojan Source", CVE-2021-42574).
"""

from __future__ import annotations

import re

# C0 controls but tab (U+0009) and newline (U+000A), DEL, C1 controls, and
# the bidi embeddings and overrides (U+202A to U+202E) and isolates (U+2066
# to U+2069).
_UNSAFE = re.compile(
    "[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]"
)


def clean_text(text: str) -> str:
    """Remove control characters and bidi overrides, keeping newlines and tabs.

    A carriage return is turned into a newline first, so that text typed in
    a browser (which sends CRLF line ends) keeps its lines.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _UNSAFE.sub("", text)
