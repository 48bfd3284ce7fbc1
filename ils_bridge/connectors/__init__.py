"""HTTP connectors to the host platform: patron sync, campus-card authentication, notice gateways, ILL gateway.

Every connector talks through :class:`ils_bridge.connectors.http.HttpClient`;
settings come from :mod:`ils_bridge.connectors.config`; objects are built and
checked by :mod:`ils_bridge.connectors.factory`.  See docs/connectors.md.
"""
