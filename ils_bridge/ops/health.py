"""Health checks an operator (or a load balancer's probe) runs against a deployment's database.

Each check is a :class:`Check` with a name, whether it passed and a one-line
detail.  ``check_health`` runs them in order and stops after the first one
the rest depend on (no schema checks on a database that cannot be reached).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import Connection, select, text
from sqlalchemy.exc import SQLAlchemyError

from ils_bridge.storage import migrate
from ils_bridge.storage import schema as s
from ils_bridge.storage.database import Database, DatabaseUnavailable


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class HealthReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [asdict(c) for c in self.checks]}


def head_revision() -> str | None:
    """The newest Alembic revision this code knows."""
    return ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_current_head()


def check_reachable(db: Database) -> Check:
    try:
        db.read(lambda conn: conn.execute(text("SELECT 1")).scalar_one())
    except (DatabaseUnavailable, SQLAlchemyError) as exc:
        return Check("database", False, f"unreachable: {_first_line(exc)}")
    return Check("database", True, "reachable")


def check_schema(db: Database) -> Check:
    head = head_revision()
    try:
        current = db.read(_current_revision)
    except (DatabaseUnavailable, SQLAlchemyError) as exc:
        return Check("schema", False, f"revision unreadable: {_first_line(exc)}")
    if current != head:
        return Check("schema", False, f"revision {current or 'none'}, code expects {head} (run ils-bridge init to migrate)")
    return Check("schema", True, f"revision {current} (head)")


def check_policies(db: Database) -> list[Check]:
    """One check per library: it has exactly one active policy version."""
    try:
        rows = db.read(lambda conn: conn.execute(
            select(s.libraries.c.code, s.policy_versions.c.version)
            .select_from(s.libraries.outerjoin(s.policy_versions, (s.policy_versions.c.library_id == s.libraries.c.id)
                                               & s.policy_versions.c.active.is_(True)))
            .order_by(s.libraries.c.code)).all())
    except (DatabaseUnavailable, SQLAlchemyError) as exc:
        return [Check("policies", False, f"unreadable: {_first_line(exc)}")]
    if not rows:
        return [Check("policies", False, "no library in this database (run ils-bridge init)")]
    active: dict[str, list[int]] = {}
    for code, version in rows:
        active.setdefault(code, []).extend([version] if version is not None else [])
    return [_policy_check(code, versions) for code, versions in active.items()]


def check_health(db: Database) -> HealthReport:
    reachable = check_reachable(db)
    if not reachable.ok:
        return HealthReport([reachable])
    schema = check_schema(db)
    if not schema.ok:
        return HealthReport([reachable, schema])
    return HealthReport([reachable, schema, *check_policies(db)])


def _policy_check(code: str, versions: list[int]) -> Check:
    name = f"policy:{code}"
    if len(versions) == 1:
        return Check(name, True, f"version {versions[0]} active")
    if not versions:
        return Check(name, False, "no active policy version")
    return Check(name, False, f"{len(versions)} active versions: {', '.join(map(str, versions))}")


def _current_revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
