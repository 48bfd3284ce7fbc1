"""What every command shares: the database and library it works on, output, and errors.

Conventions (docs/cli.md):
- ``--database URL`` or ``ILS_BRIDGE_DATABASE``; default a SQLite file in the
  user's data directory.  ``--config FILE`` for connector and server settings.
- ``--library CODE`` picks the library when the database holds more than one.
- ``--json`` prints one JSON document on stdout instead of tables.
- Errors are one line on stderr and a non-zero exit code, never a traceback:
  1 the library refused (policy), 2 bad input, 3 not found, 4 unavailable.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import click
import platformdirs

from ils_bridge.app import App, Library, UnknownLibrary
from ils_bridge.outcome import Outcome, Refusal
from ils_bridge.reasons import Reason
from ils_bridge.storage.database import Database, DatabaseUnavailable
from policies.loader import PolicyError

EXIT_REFUSED, EXIT_BAD_INPUT, EXIT_NOT_FOUND, EXIT_UNAVAILABLE = 1, 2, 3, 4
NOT_FOUND_REASONS = {Reason.UNKNOWN_PATRON, Reason.UNKNOWN_ITEM, Reason.UNKNOWN_HOLD, Reason.UNKNOWN_FEE, Reason.UNKNOWN_REQUEST}
BAD_INPUT_REASONS = {Reason.INVALID_AMOUNT, Reason.WRONG_CURRENCY, Reason.INVALID_REQUEST}


def default_database_url() -> str:
    path = Path(platformdirs.user_data_dir("ils-bridge")) / "library.db"
    return f"sqlite:///{path}"


class CliError(click.ClickException):
    """A one-line error with its exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_BAD_INPUT):
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


@dataclass
class CliContext:
    database: str
    config: Path | None
    json: bool
    library_code: str | None
    pool_size: int | None = None
    """Database connections to keep open (``serve --pool-size``); None: the engine's default."""
    _app: App | None = field(default=None, repr=False)

    @property
    def app(self) -> App:
        if self._app is None:
            if self.database.startswith("sqlite:///"):
                Path(self.database[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
            database = Database(self.database) if self.pool_size is None else Database(self.database, pool_size=self.pool_size)
            self._app = App(database)
        return self._app

    def library(self) -> Library:
        codes = self.app.library_codes()
        if self.library_code is None:
            if len(codes) != 1:
                raise CliError("name the library with --library CODE (this database holds: "
                               f"{', '.join(codes) or 'none yet: run ils-bridge init'})")
            return self.app.library(codes[0])
        return self.app.library(self.library_code)

    def close(self) -> None:
        if self._app is not None:
            self._app.close()


pass_cli = click.make_pass_decorator(CliContext)


def to_jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, (Decimal, Path)):
        return str(value)
    if isinstance(value, Reason):
        return value.value
    return value


def emit(ctx: CliContext, data: Any, render: Callable[[Any], None] | None = None) -> None:
    """Print ``data`` as JSON with --json, else through ``render`` (or as indented JSON)."""
    if ctx.json or render is None:
        click.echo(json.dumps(to_jsonable(data), ensure_ascii=False, indent=None if ctx.json else 2))
    else:
        render(data)


def refusal_error(reason: Reason, message: str, rule: str | None = None) -> CliError:
    """The error line and exit code of a refusal (unknown ids exit 3, bad input 2, policy refusals 1)."""
    code = EXIT_NOT_FOUND if reason in NOT_FOUND_REASONS else \
        EXIT_BAD_INPUT if reason in BAD_INPUT_REASONS else EXIT_REFUSED
    return CliError(f"{reason.value}: {message}" + (f" [{rule}]" if rule else ""), code)


def finish(ctx: CliContext, outcome: Outcome, render: Callable[[Outcome], None] | None = None) -> None:
    """Show a service outcome; a refusal becomes the error line and exit code."""
    if not outcome.ok:
        if ctx.json:
            click.echo(json.dumps(to_jsonable(outcome.to_json()), ensure_ascii=False))
        raise refusal_error(outcome.reason, outcome.message, outcome.rule)
    if ctx.json:
        click.echo(json.dumps(to_jsonable(outcome.to_json()), ensure_ascii=False))
    elif render is not None:
        render(outcome)
    else:
        parts = [f"ok ({outcome.rule})" if outcome.rule else "ok"]
        if outcome.due:
            parts.append(f"due {outcome.due.isoformat()}")
        parts += [f"{f.type} {f.amount} {f.currency}" for f in outcome.fees]
        click.echo("; ".join(parts))


def handle_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the errors a person can cause into one line on stderr and an exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except PolicyError as exc:
            for problem in exc.problems:
                click.echo(f"error: {problem}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except Refusal as exc:  # from a read (patron_account, item_info): unknown patron or item
            raise refusal_error(exc.reason, exc.message, exc.rule) from None
        except UnknownLibrary as exc:
            raise CliError(str(exc), EXIT_NOT_FOUND) from None
        except DatabaseUnavailable as exc:
            raise CliError(str(exc), EXIT_UNAVAILABLE) from None
        except (ValueError, LookupError, OSError) as exc:
            raise CliError(str(exc), EXIT_BAD_INPUT) from None

    return wrapper


class OneLineUsageError(click.UsageError):
    """A usage mistake (missing argument, unknown option, bad value) as one line, like every other error."""

    def show(self, file: Any = None) -> None:
        hint = f" (see '{self.ctx.command_path} --help')" if self.ctx is not None else ""
        click.echo(f"error: {self.format_message()}{hint}", err=True)


@contextmanager
def _usage_errors_on_one_line(ctx: click.Context) -> Iterator[None]:
    """Re-raise click's own usage errors as OneLineUsageError (same message and exit code)."""
    try:
        yield
    except OneLineUsageError:
        raise
    except click.UsageError as exc:
        error = OneLineUsageError(exc.format_message(), exc.ctx or ctx)
        error.exit_code = exc.exit_code
        raise error from None


class Command(click.Command):
    """A click command whose usage errors are one line on stderr."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        with _usage_errors_on_one_line(ctx):
            return super().parse_args(ctx, args)


class Group(click.Group):
    """A click group whose commands all report errors the same way."""

    command_class = Command

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        if cmd.callback is not None and not getattr(cmd.callback, "_errors_handled", False):
            cmd.callback = handle_errors(cmd.callback)
            cmd.callback._errors_handled = True  # type: ignore[attr-defined]
        super().add_command(cmd, name)

    def group(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", Group)
        return super().group(*args, **kwargs)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        with _usage_errors_on_one_line(ctx):
            return super().parse_args(ctx, args)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        with _usage_errors_on_one_line(ctx):
            return super().resolve_command(ctx, args)
