"""Masking of personal data in every log record, stdlib and structlog alike.

`install_log_masking()` is called once per process (Rasa server, action
server, runner). From then on:

- every record made by any logger is masked when it is created (a log record
  factory). Phone numbers, dates, member IDs, email addresses, registered
  names and the values of the personal slots (`PERSONAL_SLOTS`) in the
  message, arguments, exception text and stack text become placeholders
  such as `[PHONE]`;
- every handler, existing or attached later through `Logger.addHandler`,
  carries `PiiMaskingFilter`, which masks again after `extra=` attributes are
  set and covers records built by hand;
- `mask_event_dict` is inserted into structlog's processor chain. Rasa 3.6
  configures structlog with `structlog.stdlib.LoggerFactory()` in
  `rasa/utils/log_utils.py`, so its rendered events also pass through the
  stdlib layer above, but only as finished JSON text: withholding member text
  by key needs the processor.

Member message text is marked by the caller: pass it as `MemberText(text)` in
the log arguments, or as `extra={"member_text": text}`, or under one of
`TEXT_KEYS` in a structlog event. Above `text_level` (DEBUG by default, so
already at INFO) the text is replaced by `TEXT_WITHHELD`; at DEBUG it is kept,
masked. The assistant's processes pass `text_level=logging.NOTSET`, which
withholds member text at every level.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

from bot.answers import MEMBER_ID_PATTERN
from bot.nlp import fold

MASK_PHONE = "[PHONE]"
MASK_DATE = "[DATE]"
MASK_MEMBER_ID = "[MEMBER_ID]"
MASK_EMAIL = "[EMAIL]"
MASK_SENSITIVE = "[REDACTED]"
MASK_SECRET = "[SECRET]"
TEXT_WITHHELD = "[message text withheld]"

# Slots whose values identify the member. Their values are redacted wherever a
# log line names the slot (a dict key, a Rasa `SlotSet`, a slot listing), and
# each process registers them for exact-match masking once they are known.
PERSONAL_SLOTS = frozenset(
    {"handoff_name", "handoff_phone", "handoff_member_id", "handoff_call_time"}
)
# Values of personal slots that are markers, not personal data: `sender` means
# "the number this SMS came from", `skipped` means no member ID was given.
_SLOT_MARKERS = frozenset({"sender", "skipped"})

# Event keys that carry member text: Rasa 3.6's own list of anonymizable keys
# (rasa/utils/log_utils.py) plus this product's `member_text`.
# fmt: off
TEXT_KEYS = frozenset(
    {
        "text", "response_text", "user_text", "slot_values", "parse_data_text",
        "parse_data_entities", "prediction_events", "tracker_latest_message",
        "prefilled_slots", "message", "response", "slot_candidates", "rasa_event",
        "rasa_events", "tracker_states", "current_states", "old_states",
        "successes", "current_entity", "next_entity", "states", "entity",
        "token_text", "user_message", "json_message", "member_text",
    }
)
# fmt: on

_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE_RES = (
    # US numbers: (650) 555-1234, 650.555.1234, +1 650 555 1234, 6505551234.
    re.compile(
        r"(?<![\w.+-])(?:\+?1[\s.\-]?)?(?:\(\s*[2-9]\d{2}\s*\)\s?|[2-9]\d{2}[\s.\-]?)"
        r"\d{3}[\s.\-]?\d{4}(?![\d])(?!-\d)"
    ),
    # International numbers written with a plus: +44 20 7946 0958, +525512345678.
    re.compile(r"(?<![\w+])\+\d{1,3}(?:[\s.\-]?\(?\d{1,4}\)?){1,6}(?!\d)"),
    # Seven-digit local numbers: 555-1234.
    re.compile(r"(?<![\w.\-])\d{3}[\-.]\d{4}(?![\w.\-]?\d)"),
)
_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|"
    r"aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|"
    r"enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|"
    r"octubre|noviembre|diciembre)"
)
_FULL_MONTHS = (
    r"(?:january|february|march|april|june|july|august|september|october|"
    r"november|december|enero|febrero|marzo|abril|mayo|junio|julio|agosto|"
    r"septiembre|setiembre|octubre|noviembre|diciembre)"
)
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_DATE_RES = (
    # 03/14/1975, 3-14-75 (same separator twice; dotted versions such as
    # 3.6.21 are left alone).
    re.compile(r"(?<![\w/.\-])\d{1,2}([/\-])\d{1,2}\1(?:\d{4}|\d{2})(?![\w/]|[.\-]\d)"),
    # 1975-03-14, but not a timestamp such as 2024-05-01T12:00 or 2024-05-01 12:00.
    re.compile(r"(?<![\w\-])(?:1[89]|20)\d{2}-\d{1,2}-\d{1,2}(?![\w\-]|[T ]\d{1,2}:)"),
    # March 14, 1975 / Mar. 14 75 / marzo 14 de 1975
    re.compile(
        rf"\b{_MONTHS}\.?\s+{_DAY},?\s+(?:de\s+|del\s+)?(?:\d{{4}}|\d{{2}})\b",
        re.IGNORECASE,
    ),
    # 14 March 1975 / 14th of March, 1975 / 14 de marzo de 1975
    re.compile(
        rf"\b{_DAY}\s+(?:de\s+|of\s+)?{_MONTHS}\.?,?\s+(?:de\s+|del\s+)?"
        rf"(?:\d{{4}}|\d{{2}})\b",
        re.IGNORECASE,
    ),
    # A birthday without the year: March 14, 14 de marzo ("may" is skipped).
    re.compile(rf"\b{_FULL_MONTHS}\s+{_DAY}\b", re.IGNORECASE),
    re.compile(rf"\b{_DAY}\s+(?:de\s+|of\s+){_FULL_MONTHS}\b", re.IGNORECASE),
)
_EIGHT_DIGITS_RE = re.compile(r"(?<![\w\-])(\d{8})(?![\w\-])")
# NOTE: the member ID pattern also matches any 8-12 character mix of letters
# and digits, such as a short hex id. Conversation ids of 32 characters are safe.
_MEMBER_ID_RE = re.compile(MEMBER_ID_PATTERN)
_WORD_RE = re.compile(r"\w+")
# A personal slot's value after its name, as Rasa writes it: `SlotSet(key:
# handoff_name, value: Ana Ruiz)`, `handoff_name: Ana Ruiz` (slot listings),
# `'handoff_name': 'Ana Ruiz'` (dict reprs) and `"handoff_name": "Ana Ruiz"`
# (JSON, also with escaped quotes inside a JSON string). An unquoted value ends
# at a comma, bracket, tab, newline or backslash. A value that starts with "("
# is a featurized state such as `(1.0,)` and is left alone.
# NOTE: an unquoted value with a comma ("Ruiz, Ana") is redacted only up to the
# comma; the rest is masked only in a process where the value was registered.
_SLOT_VALUE_RE = re.compile(
    r"(?P<head>\b(?:" + "|".join(sorted(PERSONAL_SLOTS)) + r")\b"
    r"(?:, value: |\\?['\"]?\s*[:=]\s*))"
    r"(?P<value>"
    r"(?P<quote>\\?['\"])(?:\\.|[^\\\n])*?(?P=quote)"
    r"|[^\s,()}\]\\][^\n\t,)}\]\\]*"
    r")"
)
# Secrets in URLs, such as Rasa's `?token=` in an HTTP API access log line.
_URL_SECRET_RE = re.compile(
    r"(?P<head>[?&](?:token|auth_token|access_token)=)[^&\s\"'#]+", re.IGNORECASE
)

# Registered values that are also everyday function words are not masked as
# single words, because masking "will" or "may" in every line makes logs
# unreadable. NOTE: a member named "Will" or "May" is then masked only where
# the name appears with another registered word.
# fmt: off
_COMMON_WORDS = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "de", "del", "el",
        "en", "for", "from", "has", "have", "in", "is", "it", "la", "las", "los",
        "may", "me", "mi", "my", "no", "not", "of", "on", "or", "para", "por",
        "que", "se", "si", "so", "the", "to", "un", "una", "was", "we", "will",
        "with", "y", "yes", "you",
    }
)
# fmt: on


def _eight_digit_date(match: re.Match) -> str:
    digits = match.group(1)
    month, day, year = int(digits[:2]), int(digits[2:4]), int(digits[4:])
    if 1 <= month <= 12 and 1 <= day <= 31 and 1890 <= year <= 2099:
        return MASK_DATE
    year, month, day = int(digits[:4]), int(digits[4:6]), int(digits[6:])
    if 1890 <= year <= 2099 and 1 <= month <= 12 and 1 <= day <= 31:
        return MASK_DATE
    return digits


def _redact_slot_value(match: re.Match) -> str:
    value = match.group("value")
    quote = match.group("quote") or ""
    if value[len(quote) : len(value) - len(quote)] in ("None", "null", ""):
        return match.group(0)
    return f"{match.group('head')}{quote}{MASK_SENSITIVE}{quote}"


def _phone_or_keep(match: re.Match) -> str:
    """Mask a phone-shaped match only when it has at least seven digits."""
    digits = sum(ch.isdigit() for ch in match.group(0))
    return MASK_PHONE if digits >= 7 else match.group(0)


class SensitiveRegistry:
    """Exact values to mask per conversation, such as a member's name.

    Values are split into words, folded (no case, no accents) and counted, so
    "José García" masks "jose", "GARCIA" and "García" anywhere in a log line.
    The registry is process-wide, thread-safe and bounded: the least recently
    registered conversation is dropped past `max_conversations`.

    Args:
        max_conversations: conversations kept before the oldest is dropped.
        max_values: values kept per conversation; later ones are ignored.
        max_value_length: longer values are cut to this many characters.
    """

    def __init__(
        self,
        max_conversations: int = 10_000,
        max_values: int = 32,
        max_value_length: int = 200,
    ) -> None:
        self.max_conversations = max_conversations
        self.max_values = max_values
        self.max_value_length = max_value_length
        self._lock = threading.Lock()
        self._by_conversation: OrderedDict[str, frozenset[str]] = OrderedDict()
        # Word -> number of conversations that registered it. Lookups read this
        # dict without the lock: a membership test is atomic in CPython.
        self._counts: dict[str, int] = {}

    def _words(self, values: Iterable[Any]) -> set[str]:
        words: set[str] = set()
        for value in list(values)[: self.max_values]:
            if value is None:
                continue
            for word in _WORD_RE.findall(fold(str(value)[: self.max_value_length])):
                letters = sum(ch.isalpha() for ch in word)
                if word in _COMMON_WORDS:
                    continue
                if letters >= 2 or (word.isdigit() and len(word) >= 4):
                    words.add(word)
        return words

    def register(self, conversation_id: str, values: Iterable[Any]) -> None:
        """Add `values` to the values masked for `conversation_id`."""
        words = self._words(values)
        if not words:
            return
        with self._lock:
            old = self._by_conversation.pop(conversation_id, frozenset())
            new = frozenset(old | words)
            self._by_conversation[conversation_id] = new
            for word in new - old:
                self._counts[word] = self._counts.get(word, 0) + 1
            while len(self._by_conversation) > self.max_conversations:
                _, dropped = self._by_conversation.popitem(last=False)
                self._release(dropped)

    def forget(self, conversation_id: str) -> None:
        """Stop masking the values registered for `conversation_id`."""
        with self._lock:
            dropped = self._by_conversation.pop(conversation_id, None)
            if dropped:
                self._release(dropped)

    def _release(self, words: frozenset[str]) -> None:
        for word in words:
            count = self._counts.get(word, 0) - 1
            if count > 0:
                self._counts[word] = count
            else:
                self._counts.pop(word, None)

    def clear(self) -> None:
        """Forget every conversation."""
        with self._lock:
            self._by_conversation.clear()
            self._counts.clear()

    def __contains__(self, word: str) -> bool:
        return word in self._counts

    def __bool__(self) -> bool:
        return bool(self._counts)

    def __len__(self) -> int:
        return len(self._by_conversation)


REGISTRY = SensitiveRegistry()


def register_sensitive(conversation_id: str, values: Iterable[Any]) -> None:
    """Mask `values` (a name, an address...) in every log line from now on.

    Args:
        conversation_id: the conversation (Rasa sender id) they belong to.
        values: strings to mask; each word of two letters or more is masked.
    """
    REGISTRY.register(conversation_id, values)


def forget(conversation_id: str) -> None:
    """Drop the values registered for `conversation_id` (conversation ended)."""
    REGISTRY.forget(conversation_id)


def register_slot_value(conversation_id: str, slot: str, value: Any) -> None:
    """Register the value of a personal slot for exact-match masking.

    Other slots, empty values and the markers `sender` and `skipped` are
    ignored. The `id:` or `dob:` prefix of `handoff_member_id` is dropped, so
    the words "id" and "dob" are not masked everywhere.

    Args:
        conversation_id: the conversation (Rasa sender id) the slot belongs to.
        slot: the slot's name.
        value: the slot's new value.
    """
    if slot not in PERSONAL_SLOTS or not isinstance(value, str):
        return
    if value in _SLOT_MARKERS:
        return
    if slot == "handoff_member_id":
        value = value.partition(":")[2] or value
    REGISTRY.register(conversation_id, [value])


def _mask_registered(match: re.Match) -> str:
    word = match.group(0)
    return MASK_SENSITIVE if fold(word) in REGISTRY else word


def mask_text(text: str) -> str:
    """Return `text` with personal data replaced by placeholders.

    Personal slot values named in the text, URL tokens, emails, dates, phone
    numbers, member IDs and registered values become placeholders such as
    `[PHONE]`.
    """
    if not text:
        return text
    text = _SLOT_VALUE_RE.sub(_redact_slot_value, text)
    text = _URL_SECRET_RE.sub(rf"\g<head>{MASK_SECRET}", text)
    text = _EMAIL_RE.sub(MASK_EMAIL, text)
    for pattern in _DATE_RES:
        text = pattern.sub(MASK_DATE, text)
    text = _EIGHT_DIGITS_RE.sub(_eight_digit_date, text)
    for pattern in _PHONE_RES:
        text = pattern.sub(_phone_or_keep, text)
    text = _MEMBER_ID_RE.sub(MASK_MEMBER_ID, text)
    if REGISTRY:
        text = _WORD_RE.sub(_mask_registered, text)
    return text


class MemberText(str):
    """A member's message text, marked so logs withhold it above DEBUG.

    Use it as a log argument: `logger.debug("Parsed %s", MemberText(text))`.
    """

    __slots__ = ()


def mask_value(value: Any, withhold_text: bool = False, _depth: int = 0) -> Any:
    """Mask strings inside `value`, recursing into dicts, lists, tuples and sets.

    Args:
        value: a log argument or a structlog event value.
        withhold_text: replace `MemberText` values and dict entries under
            `TEXT_KEYS` by `TEXT_WITHHELD`.

    Returns:
        The masked value. Numbers are returned unchanged unless their digits
        form a phone number or date, in which case the masked string is returned.
    """
    if isinstance(value, MemberText):
        return TEXT_WITHHELD if withhold_text else mask_text(str(value))
    if isinstance(value, str):
        return mask_text(value)
    if value is None or isinstance(value, (bool, float)):
        return value
    if isinstance(value, int):
        masked = mask_text(str(value))
        return value if masked == str(value) else masked
    if _depth > 8:
        return mask_text(str(value))
    if isinstance(value, Mapping):
        personal_slot_event = (
            value.get("event") == "slot" and value.get("name") in PERSONAL_SLOTS
        )
        masked = {
            key: _mask_item(key, item, withhold_text, _depth + 1)
            for key, item in value.items()
        }
        if personal_slot_event and masked.get("value") is not None:
            # A Rasa or rasa-sdk `SlotSet` event as a dict.
            masked["value"] = MASK_SENSITIVE
        return masked
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [mask_value(item, withhold_text, _depth + 1) for item in value]
        return items if isinstance(value, list) else type(value)(items)
    return mask_text(str(value))


# Keys under which Rasa 3.6 logs lists of events. When their text is withheld,
# each event is kept as an outline: its type and its slot or action name.
_EVENT_LIST_KEYS = frozenset({"rasa_events", "prediction_events"})
# The start of a Rasa event's repr: `SlotSet(key: requested_slot, value: ...)`,
# `ActionExecuted(action: utter_greet, ...)`, `BotUttered('...', ...)`.
_EVENT_REPR_RE = re.compile(r"(?P<type>[A-Z]\w*)\((?:(?:key|action): (?P<name>\w+))?")


def outline_events(events: Any) -> Any:
    """Return a list of events reduced to their types and slot or action names.

    `SlotSet(key: handoff_name, value: Ana)` becomes `SlotSet(handoff_name)`
    and a `UserUttered` event becomes `UserUttered`. Events may be Rasa event
    objects or their reprs. Anything that is not a list of events is replaced
    by `TEXT_WITHHELD`.
    """
    if not isinstance(events, (list, tuple)):
        return TEXT_WITHHELD
    outline = []
    for event in events:
        if isinstance(event, str):
            match = _EVENT_REPR_RE.match(event)
            if match is None:
                return TEXT_WITHHELD
            event_type, name = match.group("type"), match.group("name")
        else:
            # Slot, action or loop name: `SlotSet.key`, `ActionExecuted.action_name`,
            # `ActiveLoop.name`. None of them is member data.
            event_type = type(event).__name__
            name = next(
                (
                    value
                    for value in (
                        getattr(event, attribute, None)
                        for attribute in ("key", "action_name", "name")
                    )
                    if isinstance(value, str)
                ),
                None,
            )
        outline.append(f"{event_type}({name})" if name else event_type)
    return outline


def _mask_item(key: Any, value: Any, withhold_text: bool, depth: int = 0) -> Any:
    """Mask one dict entry: withhold member text, redact personal slot values."""
    if withhold_text and key in _EVENT_LIST_KEYS:
        return outline_events(value)
    if withhold_text and key in TEXT_KEYS:
        return TEXT_WITHHELD
    if key in PERSONAL_SLOTS and value is not None:
        return MASK_SENSITIVE
    return mask_value(value, withhold_text, depth)


# Attributes every LogRecord has; the rest come from `extra=`.
_RECORD_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__
) | {"message", "asctime", "_pii_masked"}


class PiiMaskingFilter(logging.Filter):
    """Mask personal data in a log record's message, arguments, exception and extras.

    The filter rewrites the record in place and always lets it through: the
    message is formatted with its arguments, masked, and stored back with no
    arguments, and any exception is formatted into masked `exc_text`.

    Args:
        name: passed to `logging.Filter`.
        text_level: the highest level at which member text is kept (masked),
            as a number or a level name such as "NOTSET". Records above it get
            `TEXT_WITHHELD` instead. Default DEBUG; NOTSET withholds member
            text at every level.

    Raises:
        ValueError: `text_level` is not a logging level.
    """

    def __init__(self, name: str = "", text_level: int | str = logging.DEBUG) -> None:
        super().__init__(name)
        if isinstance(text_level, str):
            level = logging.getLevelName(text_level.upper())
            if not isinstance(level, int):
                raise ValueError(
                    f"text_level {text_level!r} is invalid; use a logging level "
                    "name such as NOTSET or DEBUG"
                )
            text_level = level
        self.text_level = text_level

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask `record` in place; return True so the record is still emitted."""
        try:
            self._mask(record)
        except Exception:  # a logging filter must never raise or leak
            record.msg = "[log message withheld: masking failed]"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True

    def _mask(self, record: logging.LogRecord) -> None:
        withhold = record.levelno > self.text_level

        if isinstance(record.msg, Mapping):
            # structlog's ProcessorFormatter passes the event dict as `msg`.
            record.msg = mask_value(record.msg, withhold)
        elif not getattr(record, "_pii_masked", False) or record.args:
            record.msg = mask_text(self._format(record, withhold))
            record.args = ()

        if record.exc_info:
            if not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)

        for key, value in list(record.__dict__.items()):
            if key in _RECORD_ATTRIBUTES:
                continue
            record.__dict__[key] = _mask_item(key, value, withhold)
        record._pii_masked = True

    @staticmethod
    def _format(record: logging.LogRecord, withhold: bool) -> str:
        msg = record.msg
        if withhold and isinstance(msg, MemberText):
            msg = TEXT_WITHHELD
        args = record.args
        if not args:
            return str(msg)
        if isinstance(args, Mapping):
            args = {k: _withheld_or(v, withhold) for k, v in args.items()}
        else:
            args = tuple(_withheld_or(a, withhold) for a in args)
        try:
            return str(msg) % args
        except (TypeError, ValueError, KeyError):
            parts = args.values() if isinstance(args, Mapping) else args
            return " ".join([str(msg), *(str(a) for a in parts)])


def _withheld_or(value: Any, withhold: bool) -> Any:
    return TEXT_WITHHELD if withhold and isinstance(value, MemberText) else value


# --- structlog ----------------------------------------------------------------

_TEXT_LEVEL = logging.DEBUG


def mask_event_dict(logger: Any, method_name: str, event_dict: dict) -> dict:
    """structlog processor: mask every value of the event dict.

    Insert it before the renderer, e.g. `processors[-1:-1] = [mask_event_dict]`;
    `install_log_masking()` does this for a configured structlog. Values under
    `TEXT_KEYS` are withheld above the text level (DEBUG unless
    `install_log_masking(text_level=...)` set another).
    """
    level = logging.getLevelName(
        {"warn": "WARNING", "exception": "ERROR", "msg": "INFO"}.get(
            method_name, method_name.upper()
        )
    )
    withhold = not isinstance(level, int) or level > _TEXT_LEVEL
    for key, value in list(event_dict.items()):
        event_dict[key] = _mask_item(key, value, withhold)
    return event_dict


def _add_to_structlog() -> bool:
    try:
        import structlog
    except ImportError:
        return False
    if not structlog.is_configured():
        return False
    processors = structlog.get_config()["processors"]
    if mask_event_dict in processors:
        return True
    # Insert in place: loggers cached on first use keep this same list object.
    position = max(len(processors) - 1, 0)
    if isinstance(processors, list):
        processors.insert(position, mask_event_dict)
    else:
        processors = list(processors)
        processors.insert(position, mask_event_dict)
        structlog.configure(processors=processors)
    return True


def _remove_from_structlog() -> None:
    try:
        import structlog
    except ImportError:
        return
    processors = structlog.get_config()["processors"]
    if isinstance(processors, list) and mask_event_dict in processors:
        processors.remove(mask_event_dict)


# --- installation -------------------------------------------------------------

_INSTALL_LOCK = threading.Lock()
_FILTER: PiiMaskingFilter | None = None
_ORIGINAL_ADD_HANDLER = None
_ORIGINAL_FACTORY = None


def _all_handlers() -> list[logging.Handler]:
    handlers = list(logging.getLogger().handlers)
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):
            handlers.extend(logger.handlers)
    return handlers


def install_log_masking(text_level: int = logging.DEBUG) -> PiiMaskingFilter:
    """Mask personal data in every log record of this process, now and later.

    The filter goes on the handlers of the root logger and of every existing
    logger. It also goes on every handler attached later with `addHandler`,
    which covers Rasa's `basicConfig` and Sanic's `dictConfig`. A record
    factory masks records when they are created, and `mask_event_dict` joins
    structlog's processors if structlog is configured. Calling it again
    updates `text_level` and picks up new handlers and structlog settings.

    Args:
        text_level: highest level at which member text is logged (masked).
            `logging.NOTSET` withholds member text at every level.

    Returns:
        The process-wide filter.
    """
    global _FILTER, _ORIGINAL_ADD_HANDLER, _ORIGINAL_FACTORY, _TEXT_LEVEL
    with _INSTALL_LOCK:
        _TEXT_LEVEL = text_level
        if _FILTER is None:
            _FILTER = PiiMaskingFilter(text_level=text_level)
        _FILTER.text_level = text_level
        masking_filter = _FILTER

        for handler in _all_handlers():
            if masking_filter not in handler.filters:
                handler.addFilter(masking_filter)

        if _ORIGINAL_ADD_HANDLER is None:
            _ORIGINAL_ADD_HANDLER = logging.Logger.addHandler
            original_add_handler = _ORIGINAL_ADD_HANDLER

            def add_handler_with_masking(self, handler):
                if masking_filter not in handler.filters:
                    handler.addFilter(masking_filter)
                original_add_handler(self, handler)

            logging.Logger.addHandler = add_handler_with_masking

        if _ORIGINAL_FACTORY is None:
            _ORIGINAL_FACTORY = logging.getLogRecordFactory()
            original_factory = _ORIGINAL_FACTORY

            def masking_record_factory(*args, **kwargs):
                record = original_factory(*args, **kwargs)
                masking_filter.filter(record)
                return record

            logging.setLogRecordFactory(masking_record_factory)

        _add_to_structlog()
    return masking_filter


def uninstall_log_masking() -> None:
    """Undo `install_log_masking` (used by tests)."""
    global _FILTER, _ORIGINAL_ADD_HANDLER, _ORIGINAL_FACTORY, _TEXT_LEVEL
    with _INSTALL_LOCK:
        if _FILTER is not None:
            for handler in _all_handlers():
                if _FILTER in handler.filters:
                    handler.removeFilter(_FILTER)
        if _ORIGINAL_ADD_HANDLER is not None:
            logging.Logger.addHandler = _ORIGINAL_ADD_HANDLER
        if _ORIGINAL_FACTORY is not None:
            logging.setLogRecordFactory(_ORIGINAL_FACTORY)
        _remove_from_structlog()
        _FILTER = None
        _ORIGINAL_ADD_HANDLER = None
        _ORIGINAL_FACTORY = None
        _TEXT_LEVEL = logging.DEBUG
