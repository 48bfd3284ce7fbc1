"""Running ils-bridge in production: health checks, metrics, structured logs, the operator's HTTP endpoint.

- ``health``: is the database reachable, at the newest schema, with an active policy per library?
- ``metrics``: counters and a latency histogram, rendered in Prometheus text format
- ``http``: ``/healthz``, ``/readyz`` and ``/metrics`` served from a thread beside a protocol server
- ``logs``: one JSON object per log line, for log shippers
"""
