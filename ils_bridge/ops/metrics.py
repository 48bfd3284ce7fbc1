"""Request metrics of one serving process, rendered in the Prometheus text exposition format.

The server calls :meth:`RequestMetrics.observe` once per request with the
message type, how it ended and how long it took.  Everything is kept in
memory per process (a scraper sums over processes); the counters only grow
and restart at zero with the process, as Prometheus expects.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import defaultdict
from collections.abc import Sequence

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Upper bounds (seconds) of the latency histogram's buckets."""

RESULTS = ("ok", "refused", "error", "unavailable")
"""How a request ended: done; answered no by policy or checks; 96 (unreadable or a bug); database unavailable."""


class _Histogram:
    def __init__(self, buckets: Sequence[float]) -> None:
        self.buckets = tuple(buckets)
        self.counts = [0] * (len(self.buckets) + 1)  # the last one is +Inf
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value


class RequestMetrics:
    """Requests per (protocol, message type, result), a latency histogram per (protocol, message type)."""

    def __init__(self, buckets: Sequence[float] = LATENCY_BUCKETS) -> None:
        self.buckets = tuple(buckets)
        self.started = time.time()
        self._requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self._latency: dict[tuple[str, str], _Histogram] = {}
        self._connections: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def observe(self, protocol: str, message: str, result: str, seconds: float) -> None:
        if result not in RESULTS:
            raise ValueError(f"result must be one of {', '.join(RESULTS)}")
        with self._lock:
            self._requests[(protocol, message, result)] += 1
            histogram = self._latency.get((protocol, message))
            if histogram is None:
                histogram = self._latency[(protocol, message)] = _Histogram(self.buckets)
            histogram.observe(seconds)

    def connection_opened(self, protocol: str) -> None:
        with self._lock:
            self._connections[protocol] += 1

    def connection_closed(self, protocol: str) -> None:
        with self._lock:
            self._connections[protocol] -= 1

    def count(self, protocol: str, message: str, result: str) -> int:
        with self._lock:
            return self._requests.get((protocol, message, result), 0)

    def render(self) -> str:
        """Every metric in Prometheus text format (version 0.0.4)."""
        with self._lock:
            lines = [
                "# HELP ils_bridge_requests_total Requests answered, by protocol, message type and result.",
                "# TYPE ils_bridge_requests_total counter",
            ]
            for (protocol, message, result), n in sorted(self._requests.items()):
                lines.append(f"ils_bridge_requests_total{_labels(protocol=protocol, message=message, result=result)} {n}")
            lines += [
                "# HELP ils_bridge_request_seconds Time from a request's arrival to its reply, by protocol and message type.",
                "# TYPE ils_bridge_request_seconds histogram",
            ]
            for (protocol, message), histogram in sorted(self._latency.items()):
                lines += _histogram_lines("ils_bridge_request_seconds", histogram, protocol=protocol, message=message)
            lines += [
                "# HELP ils_bridge_open_connections Connections open now, by protocol.",
                "# TYPE ils_bridge_open_connections gauge",
            ]
            lines += [f"ils_bridge_open_connections{_labels(protocol=p)} {n}" for p, n in sorted(self._connections.items())]
            lines += [
                "# HELP ils_bridge_process_start_time_seconds When this process started (Unix time).",
                "# TYPE ils_bridge_process_start_time_seconds gauge",
                f"ils_bridge_process_start_time_seconds {self.started:.3f}",
            ]
        return "\n".join(lines) + "\n"


def _histogram_lines(name: str, histogram: _Histogram, **labels: str) -> list[str]:
    lines, cumulative = [], 0
    for bound, n in zip((*histogram.buckets, float("inf")), histogram.counts):
        cumulative += n
        le = "+Inf" if bound == float("inf") else repr(bound)
        lines.append(f"{name}_bucket{_labels(**labels, le=le)} {cumulative}")
    lines.append(f"{name}_sum{_labels(**labels)} {histogram.total:.6f}")
    lines.append(f"{name}_count{_labels(**labels)} {cumulative}")
    return lines


def _labels(**labels: str) -> str:
    def escape(value: str) -> str:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return "{" + ",".join(f'{k}="{escape(v)}"' for k, v in labels.items()) + "}"
