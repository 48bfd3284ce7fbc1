"""One module per SIP2 message pair (``login.py`` for 93/94, ``checkout.py`` for 11/12, ...).

Each module registers its handler on a :class:`sip2_server.dispatch.HandlerRegistry`;
the handlers translate requests into ``ils_bridge`` service calls and ``Outcome``s
back into replies.  Added once the services exist.
"""
