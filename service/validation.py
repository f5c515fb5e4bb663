"""Turn untrusted JSON into typed values, with DRF's exact error messages.

A resource declares its writable fields as a tuple of ``Field`` in serializer
order; ``validate`` returns the clean values of the fields that were sent and
raises ``ValidationError({"field": ["message"], ...})`` otherwise.

A body that came as an HTML form is a ``FormData``: DRF reads an empty value
of such a field differently from JSON's ``""`` (see ``_html_value``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, DecimalException, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from .errors import ValidationError

INT_MAX = 2147483647  # PostgreSQL integer
BIGINT_MAX = 9223372036854775807
MAX_STRING_LENGTH = 1000

REQUIRED = "This field is required."
NOT_NULL = "This field may not be null."
BLANK = "This field may not be blank."
INVALID_INT = "A valid integer is required."
INVALID_NUMBER = "A valid number is required."
INVALID_STRING = "Not a valid string."
INVALID_BOOL = "Must be a valid boolean."
STRING_TOO_LARGE = "String value too large."
DATETIME_FORMAT = (
    "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
)
DATETIME_OVERFLOW = "Datetime value out of range."
NO_DATA = "No data provided"

# The bounds of a clinical datetime (admission, dismissal, observation): no
# earlier than 1900, and no later than a day past the server's clock (a
# clock a little ahead on a ward's device, or a time zone mistake, stays
# accepted; a year typed wrong does not).
EARLIEST_DATETIME = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
DATETIME_AHEAD = dt.timedelta(hours=24)


class Kind:
    INT = "int"
    DECIMAL = "decimal"
    TEXT = "text"
    CHOICE = "choice"
    DATETIME = "datetime"
    BOOL = "bool"
    FK = "fk"  # primary key of another row; existence is checked by the database
    FK_LIST = "fk_list"  # a list of primary keys (DRF's many=True related field)


@dataclass(frozen=True)
class Field:
    name: str
    kind: str
    required: bool = False
    nullable: bool = False
    min_value: int | str | None = None
    max_value: int | str | None = None
    max_length: int | None = None
    allow_blank: bool = True
    choices: tuple[str, ...] = ()
    max_digits: int = 0
    decimal_places: int = 0
    pattern: re.Pattern[str] | None = None
    pattern_message: str = ""
    # Datetimes only: the earliest moment accepted, and how far past the
    # server's now (at validation, to the second) the latest one is.
    earliest: dt.datetime | None = None
    latest_ahead: dt.timedelta | None = None


def clinical_datetime(name: str, *, required: bool = False, nullable: bool = False) -> Field:
    """A datetime between EARLIEST_DATETIME and DATETIME_AHEAD past now."""
    return Field(
        name,
        Kind.DATETIME,
        required=required,
        nullable=nullable,
        earliest=EARLIEST_DATETIME,
        latest_ahead=DATETIME_AHEAD,
    )


class FormData(dict[str, Any]):
    """A body sent as an HTML form (urlencoded or multipart): the last value
    of each key, as Django's QueryDict gives it, and ``getlist`` for all of
    them, in order (a list field such as a user's ``wards`` is sent as
    ``wards=1&wards=2``, which DRF's ManyRelatedField reads with getlist).

    ``validate`` reads an empty value in it as DRF reads HTML input: null for
    a nullable field that does not take blank text, not sent at all for an
    optional one. JSON's ``""`` is never read that way.
    """

    def __init__(self, pairs: Iterable[tuple[str, Any]] = (), **values: Any) -> None:
        pairs = [*pairs, *values.items()]
        super().__init__(pairs)
        self.lists: dict[str, list[Any]] = {}
        for key, value in pairs:
            self.lists.setdefault(key, []).append(value)

    def getlist(self, key: str) -> list[Any]:
        return list(self.lists.get(key, ()))


class FieldError(Exception):
    def __init__(self, *messages: str) -> None:
        self.messages = list(messages)


def type_name(value: Any) -> str:
    """Python's type name, as DRF prints it (``list``, ``str``, ``dict``)."""
    return type(value).__name__


def require_object(data: Any) -> Mapping[str, Any]:
    if data is None:
        raise ValidationError({"non_field_errors": [NO_DATA]})
    if not isinstance(data, Mapping):
        raise ValidationError(
            {"non_field_errors": [f"Invalid data. Expected a dictionary, but got {type_name(data)}."]}
        )
    return data


_OMITTED: Any = object()  # a field that was not sent


def validate(
    fields: tuple[Field, ...],
    data: Any,
    *,
    partial: bool,
    tz: ZoneInfo,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Clean values of the fields present in ``data``; unknown keys are ignored.

    ``now`` (default: the clock, read once) bounds datetimes that have
    ``latest_ahead``.
    """
    data = require_object(data)
    html = isinstance(data, FormData)
    now = now if now is not None else dt.datetime.now(dt.UTC)
    clean: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for field in fields:
        value = data.get(field.name, _OMITTED)
        if isinstance(data, FormData) and field.kind == Kind.FK_LIST and field.name in data:
            value = data.getlist(field.name)  # every value of the key, as DRF reads a list from a form
        elif html and value == "":
            value = _html_value(field)
        if value is _OMITTED:
            if field.required and not partial:
                errors[field.name] = [REQUIRED]
            continue
        try:
            clean[field.name] = clean_value(field, value, tz, now)
        except FieldError as exc:
            errors[field.name] = exc.messages
    if errors:
        raise ValidationError(errors)
    return clean


def _html_value(field: Field) -> Any:
    """What an empty HTML form value means (DRF's Field.get_value): text
    that may be blank stays ``""``; otherwise null if the field is nullable,
    and not sent at all if it is optional."""
    takes_blank = field.kind in (Kind.TEXT, Kind.CHOICE) and field.allow_blank
    if takes_blank:
        return ""
    if field.nullable:
        return None
    return "" if field.required else _OMITTED


def clean_value(field: Field, value: Any, tz: ZoneInfo, now: dt.datetime | None = None) -> Any:
    if value == "" and field.kind == Kind.FK:
        value = None  # DRF's related fields read "" (an empty form field) as null
    if value is None:
        if field.nullable:
            return None
        raise FieldError(NOT_NULL)
    clean = _CLEANERS[field.kind](field, value, tz)
    if field.kind == Kind.DATETIME:
        _check_moment(field, clean, now if now is not None else dt.datetime.now(dt.UTC))
    return clean


def iso_utc(moment: dt.datetime) -> str:
    """``2024-05-03T10:00:00Z``: UTC, to the second."""
    return moment.astimezone(dt.UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def latest_moment(field: Field, now: dt.datetime) -> dt.datetime | None:
    """The latest datetime ``field`` accepts at ``now`` (whole seconds, so
    the message states the bound exactly)."""
    if field.latest_ahead is None:
        return None
    return (now + field.latest_ahead).replace(microsecond=0)


def _check_moment(field: Field, moment: dt.datetime, now: dt.datetime) -> None:
    if field.earliest is not None and moment < field.earliest:
        raise FieldError(f"Ensure this value is greater than or equal to {iso_utc(field.earliest)}.")
    latest = latest_moment(field, now)
    if latest is not None and moment > latest:
        raise FieldError(f"Ensure this value is less than or equal to {iso_utc(latest)}.")


def _clean_int(field: Field, value: Any, tz: ZoneInfo) -> int:
    if isinstance(value, str) and len(value) > MAX_STRING_LENGTH:
        raise FieldError(STRING_TOO_LARGE)
    try:
        number = int(re.sub(r"\.0*\s*$", "", str(value)))
    except (ValueError, TypeError):
        raise FieldError(INVALID_INT) from None
    _check_range(field, number, INT_MAX)
    return number


def _check_range(field: Field, number: int | Decimal, default_max: int | None) -> None:
    maximum = field.max_value if field.max_value is not None else default_max
    if field.min_value is not None and number < Decimal(str(field.min_value)):
        raise FieldError(f"Ensure this value is greater than or equal to {field.min_value}.")
    if maximum is not None and number > Decimal(str(maximum)):
        raise FieldError(f"Ensure this value is less than or equal to {maximum}.")


def _clean_decimal(field: Field, value: Any, tz: ZoneInfo) -> Decimal | None:
    text = str(value).strip()
    if text == "" and field.nullable:
        return None
    if len(text) > MAX_STRING_LENGTH:
        raise FieldError(STRING_TOO_LARGE)
    try:
        number = Decimal(text)
    except (DecimalException, ValueError):
        raise FieldError(INVALID_NUMBER) from None
    if number.is_nan() or number.is_infinite():
        raise FieldError(INVALID_NUMBER)
    _check_precision(field, number)
    try:
        number = number.quantize(Decimal(1).scaleb(-field.decimal_places))
    except InvalidOperation:
        raise FieldError(INVALID_NUMBER) from None
    _check_range(field, number, None)
    return number


def _check_precision(field: Field, number: Decimal) -> None:
    _sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    if exponent >= 0:
        total = len(digits) + exponent
        whole, places = total, 0
    elif len(digits) > abs(exponent):
        total = len(digits)
        whole, places = total - abs(exponent), abs(exponent)
    else:
        total = abs(exponent)
        whole, places = 0, total
    if total > field.max_digits:
        raise FieldError(f"Ensure that there are no more than {field.max_digits} digits in total.")
    if places > field.decimal_places:
        raise FieldError(f"Ensure that there are no more than {field.decimal_places} decimal places.")
    max_whole = field.max_digits - field.decimal_places
    if whole > max_whole:
        raise FieldError(f"Ensure that there are no more than {max_whole} digits before the decimal point.")


def _clean_text(field: Field, value: Any, tz: ZoneInfo) -> str:
    if value == "" or str(value).strip() == "":
        if not field.allow_blank:
            raise FieldError(BLANK)
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise FieldError(INVALID_STRING)
    text = str(value).strip()
    messages = []
    if field.max_length is not None and len(text) > field.max_length:
        messages.append(f"Ensure this field has no more than {field.max_length} characters.")
    if "\x00" in text:
        messages.append("Null characters are not allowed.")
    surrogate = next((c for c in text if 0xD800 <= ord(c) <= 0xDFFF), None)
    if surrogate is not None:
        messages.append(f"Surrogate characters are not allowed: U+{ord(surrogate):X}.")
    if field.pattern is not None and not field.pattern.fullmatch(text):
        messages.append(field.pattern_message)
    if messages:
        raise FieldError(*messages)
    return text


def _clean_choice(field: Field, value: Any, tz: ZoneInfo) -> str:
    if value == "" and field.allow_blank:
        return ""
    if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value) in field.choices:
        return str(value)
    # Echoed back: a lone surrogate (JSON "\ud800") is shown escaped, as UTF-8 cannot carry it.
    shown = str(value).encode("utf-8", "backslashreplace").decode("utf-8")
    raise FieldError(f'"{shown}" is not a valid choice.')


_DATETIME_RE = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})"
    r"[T ](?P<hour>\d{1,2}):(?P<minute>\d{1,2})"
    r"(?::(?P<second>\d{1,2})(?:[.,](?P<microsecond>\d{1,6})\d{0,6})?)?"
    r"\s*(?P<tzinfo>Z|[+-]\d{2}(?::?\d{2})?)?$"
)


def parse_datetime(value: str) -> dt.datetime | None:
    """Django's parse_datetime: ISO 8601 first, then its lenient pattern."""
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        pass
    match = _DATETIME_RE.match(value)
    if not match:
        return None
    parts = match.groupdict()
    tzinfo: dt.tzinfo | None = None
    tzpart = parts.pop("tzinfo")
    if tzpart == "Z":
        tzinfo = dt.UTC
    elif tzpart is not None:
        minutes = int(tzpart[-2:]) if len(tzpart) > 3 else 0
        offset = 60 * int(tzpart[1:3]) + minutes
        tzinfo = dt.timezone(dt.timedelta(minutes=-offset if tzpart[0] == "-" else offset))
    if parts["microsecond"]:
        parts["microsecond"] = parts["microsecond"].ljust(6, "0")
    return dt.datetime(**{k: int(v) for k, v in parts.items() if v is not None}, tzinfo=tzinfo)


def _clean_datetime(field: Field, value: Any, tz: ZoneInfo) -> dt.datetime:
    if not isinstance(value, str):
        raise FieldError(DATETIME_FORMAT)
    try:
        parsed = parse_datetime(value)
    except (ValueError, TypeError, OverflowError):
        parsed = None
    if parsed is None:
        raise FieldError(DATETIME_FORMAT)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    try:
        return parsed.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        raise FieldError(DATETIME_OVERFLOW) from None


def _clean_bool(field: Field, value: Any, tz: ZoneInfo) -> bool:
    truthy = {True, "1", "true", "True", "TRUE", "t", "T", "yes", "y", "on"}
    falsy = {False, "0", "false", "False", "FALSE", "f", "F", "no", "n", "off"}
    if isinstance(value, (bool, int, str)):
        if value in truthy:
            return True
        if value in falsy:
            return False
    raise FieldError(INVALID_BOOL)


def _clean_fk(field: Field, value: Any, tz: ZoneInfo) -> int:
    pk = parse_pk(value)
    if pk is None:
        raise FieldError(f"Incorrect type. Expected pk value, received {type_name(value)}.")
    if not in_bigint(pk):
        raise FieldError(does_not_exist(value))
    return pk


MAX_LIST_ITEMS = 1000


def _clean_fk_list(field: Field, value: Any, tz: ZoneInfo) -> list[int]:
    """DRF's ManyRelatedField: a list of ids, each as _clean_fk takes it."""
    if not isinstance(value, list):
        raise FieldError(f'Expected a list of items but got type "{type_name(value)}".')
    if len(value) > MAX_LIST_ITEMS:
        raise FieldError(f"Ensure this field has no more than {MAX_LIST_ITEMS} elements.")
    ids = []
    for item in value:
        ids.append(_clean_fk(field, item, tz))
    return sorted(set(ids))


def does_not_exist(value: Any) -> str:
    return f'Invalid pk "{value}" - object does not exist.'


def parse_pk(value: Any) -> int | None:
    """An integer primary key from JSON or a URL, or None if it is not one.

    Ids beyond a bigint are returned as they are: they match no row. Digit
    strings are capped below Python's int() limit (4300 digits).
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"[+-]?\d{1,4000}", text):
            return int(text)
    return None


def in_bigint(pk: int) -> bool:
    return -BIGINT_MAX - 1 <= pk <= BIGINT_MAX


_CLEANERS: dict[str, Callable[[Field, Any, ZoneInfo], Any]] = {
    Kind.INT: _clean_int,
    Kind.DECIMAL: _clean_decimal,
    Kind.TEXT: _clean_text,
    Kind.CHOICE: _clean_choice,
    Kind.DATETIME: _clean_datetime,
    Kind.BOOL: _clean_bool,
    Kind.FK: _clean_fk,
    Kind.FK_LIST: _clean_fk_list,
}
