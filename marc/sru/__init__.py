"""SRU 1.2/2.0 over HTTP: CQL parser, SRU service, asyncio HTTP server, DAIA availability."""

from marc.sru.server import SruServer, create_sru_server

__all__ = ["SruServer", "create_sru_server"]
