"""Z39.50 target: APDU codec compiled from z3950.asn, Bib-1 query translation, asyncio server."""

from marc.z3950.server import (
    DEFAULT_PORT,
    Z3950Server,
    create_z3950_server,
)

__all__ = ["DEFAULT_PORT", "Z3950Server", "create_z3950_server"]
