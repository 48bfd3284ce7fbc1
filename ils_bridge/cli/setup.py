"""`ils-bridge init`: create the database and a library from each policy file."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy.exc import SQLAlchemyError

from ils_bridge.cli.common import (
    EXIT_REFUSED,
    EXIT_UNAVAILABLE,
    CliContext,
    CliError,
    Command,
    emit,
    pass_cli,
)
from ils_bridge.cli.options import acting_user, read_text_file
from ils_bridge.cli.tables import done
from policies.loader import load_policy


@click.command("init", cls=Command)
@click.option("--policy", "policy_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="A policy file; one library is created from each (repeat the option for several).")
@click.option("--author", default=None, help="Who applies the first policy version (default: your user name).")
@pass_cli
def commands(cli: CliContext, policy_files: tuple[Path, ...], author: str | None) -> None:
    """Create the database (SQLite by default, or --database postgresql://...) and its libraries.

    Every policy file is read and checked before anything is written: one bad
    file, or a library that already exists, and nothing is created.  Running
    init again on an existing database only adds the libraries it lacks.

    \b
    Examples:
      ils-bridge init --policy policies/examples/xuzhou.yaml
      ils-bridge --database sqlite:///library.db init --policy policies/examples/xuzhou.yaml
      ils-bridge --database postgresql://ils@localhost/ils init --policy a.yaml --policy b.yaml
    """
    texts = [(path, read_text_file(path)) for path in policy_files]
    codes = [load_policy(text, str(path)).library.code for path, text in texts]
    repeated = sorted({code for code in codes if codes.count(code) > 1})
    if repeated:
        raise CliError(f"two policy files are for the same library: {', '.join(repeated)}")
    app = cli.app
    try:
        app.db.create_schema()
    except SQLAlchemyError as exc:
        raise CliError(f"cannot bring the database schema up to date: {getattr(exc, 'orig', None) or exc}",
                       EXIT_UNAVAILABLE) from None
    existing = sorted(set(codes) & set(app.library_codes()))
    if existing:
        raise CliError(f"library {', '.join(existing)} already exists in this database", EXIT_REFUSED)
    created = []
    for path, text in texts:
        library = app.create_library(text, author=author or acting_user(), message=f"initial policy from {path.name}",
                                     filename=str(path))
        created.append({"code": library.code, "name": library.record.name, "currency": library.record.currency.code,
                        "policy": str(path)})
    report = {"database": cli.database, "libraries": created}

    def render(_: object) -> None:
        done(f"database ready: {cli.database}")
        for lib in created:
            done(f"library {lib['code']} ({lib['name']}, {lib['currency']}) from {lib['policy']}")

    emit(cli, report, render)
