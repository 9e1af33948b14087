"""CSV export of the queue, safe to open in a spreadsheet.

The export contains what a coordinator needs to work the list: the reference
code, status, dates, language, channel, services, assignee and the member's
name. It leaves out the phone number, member id, date of birth, notes and the
screening profile and result, which stay in the audited ticket page.

A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` as a
formula (CSV injection), and some also do after a tab, a carriage return or
leading spaces. `safe_cell` prefixes such a cell with an apostrophe, which
spreadsheets take as "show as text".
"""

from __future__ import annotations

import csv
from datetime import datetime, tzinfo
from typing import Any, Iterable, TextIO

from bot.business_days import load_calendar
from bot.workspace.queue import QueueRow

HEADER = (
    "reference",
    "status",
    "created",
    "due",
    "overdue",
    "name",
    "language",
    "channel",
    "services",
    "assignee",
)
# Characters that make a spreadsheet cell a formula or a dynamic data
# exchange call, including their full-width forms.
FORMULA_TRIGGERS = (
    "=",
    "+",
    "-",
    "@",
    "\t",
    "\r",
    "\uff1d",
    "\uff0b",
    "\uff0d",
    "\uff20",
)


def safe_cell(value: Any) -> str:
    """Convert `value` to text that a spreadsheet shows as text, never runs.

    Args:
        value: Any value; None becomes an empty string.

    Returns:
        The text, with a leading apostrophe when it starts with a formula
        character, either directly or after whitespace.
    """
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_TRIGGERS) or text.lstrip().startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


def _local(moment: datetime | None, zone: tzinfo) -> str:
    """Format a UTC time as local ISO 8601 with its offset, minutes precision."""
    if moment is None:
        return ""
    return moment.astimezone(zone).isoformat(timespec="minutes")


def write_csv(rows: Iterable[QueueRow], out: TextIO) -> int:
    """Write the header and one line per queue row, each cell made safe.

    Times are in the workspace time zone with their UTC offset.

    Args:
        rows: Queue rows, such as from `bot.workspace.queue.iter_queue`.
        out: A text stream; open files with `newline=""`.

    Returns:
        The number of rows written, not counting the header.
    """
    zone = load_calendar().timezone
    writer = csv.writer(out)
    writer.writerow(HEADER)
    count = 0
    for row in rows:
        writer.writerow(
            [
                safe_cell(value)
                for value in (
                    row.reference,
                    row.status,
                    _local(row.created_at, zone),
                    _local(row.due_at, zone),
                    "yes" if row.overdue else "no",
                    row.name,
                    row.preferred_language,
                    row.channel,
                    " ".join(row.services),
                    row.assignee_name,
                )
            ]
        )
        count += 1
    return count
