"""Options every serving process shares: database pool size, the health/metrics endpoint, JSON logs.

``serve`` commands take them with ``@operations_options`` and call
:func:`prepare` before building their servers; it returns the
:class:`RequestMetrics` to hand each server as its observer, and the
endpoint (if ``--metrics-port`` was given) to run beside them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from ils_bridge.cli.common import CliContext
from ils_bridge.ops.health import check_reachable
from ils_bridge.ops.http import OpsEndpoint
from ils_bridge.ops.logs import configure_logging
from ils_bridge.ops.metrics import RequestMetrics

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class OperationsOptions:
    pool_size: int | None
    metrics_host: str
    metrics_port: int | None
    log_json: bool


def operations_options(command: F) -> F:
    """Add --pool-size, --metrics-host, --metrics-port and --log-json; the command gets ``ops: OperationsOptions``."""
    options = [
        click.option("--pool-size", type=click.IntRange(1, 256), default=None,
                     help="Database connections (and service threads) per process [default: sip2.workers, 16]. "
                          "Keep processes x pool size under PostgreSQL's max_connections."),
        click.option("--metrics-port", type=click.IntRange(0, 65535), default=None,
                     help="Serve /healthz, /readyz and /metrics (Prometheus) over HTTP on this port."),
        click.option("--metrics-host", default="127.0.0.1", show_default=True, help="Address for --metrics-port."),
        click.option("--log-json", is_flag=True, help="Log one JSON object per line (for log shippers)."),
    ]

    def collect(**kwargs: Any) -> Any:
        kwargs["ops"] = OperationsOptions(kwargs.pop("pool_size"), kwargs.pop("metrics_host"),
                                          kwargs.pop("metrics_port"), kwargs.pop("log_json"))
        return command(**kwargs)

    collect.__name__, collect.__doc__ = command.__name__, command.__doc__
    for option in reversed(options):
        collect = option(collect)
    return collect  # type: ignore[return-value]


@dataclass
class Prepared:
    metrics: RequestMetrics
    endpoint: OpsEndpoint | None

    async def start(self) -> None:
        """Start the endpoint (a ``Running``'s start, so ``serve`` starts and stops it with the servers)."""
        if self.endpoint is not None:
            self.endpoint.start()

    async def close(self) -> None:
        if self.endpoint is not None:
            self.endpoint.close()


def prepare(cli: CliContext, ops: OperationsOptions) -> Prepared:
    """Set up logging and the pool size (before the database is opened) and build the endpoint."""
    configure_logging(as_json=ops.log_json)
    if ops.pool_size is not None:
        cli.pool_size = ops.pool_size
    metrics = RequestMetrics()
    endpoint = None
    if ops.metrics_port is not None:
        endpoint = OpsEndpoint(metrics, lambda: check_reachable(cli.app.db), host=ops.metrics_host, port=ops.metrics_port)
    return Prepared(metrics, endpoint)
