"""Options and argument types the staff commands share: dates, times, confirmation, the acting librarian.

Bad values fail with the project's one-line error (``CliError``, exit 2)
rather than click's multi-line usage message, so scripts can read them.
"""

from __future__ import annotations

import datetime as dt
import getpass
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from ils_bridge.app import Library
from ils_bridge.cli.common import CliError


class IsoDate(click.ParamType):
    """A calendar day written YYYY-MM-DD."""

    name = "DATE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dt.date:
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value).strip())
        except ValueError:
            raise CliError(f"{_label(param)}: {value!r} is not a date (write YYYY-MM-DD)") from None


class IsoTime(click.ParamType):
    """An instant written YYYY-MM-DDTHH:MM[:SS][+HH:MM]; without an offset it is the library's local time."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dt.datetime:
        if isinstance(value, dt.datetime):
            return value
        try:
            return dt.datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise CliError(f"{_label(param)}: {value!r} is not a time (write YYYY-MM-DDTHH:MM)") from None


def _label(param: click.Parameter | None) -> str:
    if param is None:
        return "value"
    return param.opts[0] if param.opts and param.opts[0].startswith("-") else (param.name or "value").upper()


DATE = IsoDate()
TIME = IsoTime()


def at_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--at TIME``: act as of another time (a backdated desk entry, an offline replay)."""
    return click.option("--at", "at", type=TIME, default=None,
                        help="Act as of this time instead of now (library local time unless an offset is given).")(command)


def yes_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--yes", "-y", "yes", is_flag=True, help="Do not ask for confirmation (for scripts).")(command)


def confirm(yes: bool, question: str) -> None:
    """Ask before a destructive action unless --yes was given (the question goes to stderr, keeping stdout for JSON)."""
    if not yes:
        click.confirm(question, abort=True, err=True)


def local_time(library: Library, value: dt.datetime | None) -> dt.datetime | None:
    """Give a naive time the library's timezone."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=ZoneInfo(library.record.timezone))


def call_options(library: Library, at: dt.datetime | None = None) -> dict[str, Any]:
    """What every write made from the CLI carries: its time and the operating-system user as actor."""
    return {"at": local_time(library, at), "actor": f"cli:{acting_user()}"}


def acting_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def parse_pairs(pairs: tuple[str, ...], typed: dict[str, Callable[[str], Any]]) -> dict[str, Any]:
    """``KEY=VALUE`` strings into a dict; values of the keys in ``typed`` are converted by its function."""
    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise CliError(f"--set {pair!r}: write KEY=VALUE")
        try:
            result[key] = typed[key](value.strip()) if key in typed else value.strip()
        except ValueError as exc:
            raise CliError(f"--set {key}: {exc}") from None
    return result


def yes_no(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("yes", "true", "1", "y"):
        return True
    if lowered in ("no", "false", "0", "n"):
        return False
    raise ValueError(f"{value!r} is not yes or no")


def whole_number(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a whole number") from None


class DecimalNumber(click.ParamType):
    """An exact decimal number (a multiple, a percentage): never a float."""

    name = "NUMBER"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Decimal:
        if isinstance(value, Decimal):
            return value
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite() or number <= 0:
            raise CliError(f"{_label(param)}: {value!r} is not a positive number")
        return number


DECIMAL = DecimalNumber()


def read_text_file(path: Path) -> str:
    """A UTF-8 text file's content, or a one-line error naming the file."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CliError(f"{path} is not UTF-8 text") from None


def in_library_time(library: Library, data: Any) -> Any:
    """``data`` with every aware time moved to the library's timezone (JSON keeps the offset)."""
    zone = ZoneInfo(library.record.timezone)

    def move(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: move(v) for k, v in value.items()}
        if isinstance(value, list):
            return [move(v) for v in value]
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            return value.astimezone(zone)
        return value

    return move(data)
