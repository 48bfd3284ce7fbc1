"""Database URLs as people write them, made what SQLAlchemy needs."""

from __future__ import annotations


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and route them to psycopg 3."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def is_memory(url: str) -> bool:
    return url in ("sqlite://", "sqlite:///:memory:")
