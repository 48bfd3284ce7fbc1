"""One module per SIP2 message pair (``login.py`` for 93/94, ``checkout.py`` for 11/12, ...).

Each module has ``REQUEST_ID`` and ``async handle(exchange) -> Message``
(login: ``handle(backend, session, request)``); ``sip2_server.app`` registers
them behind the checks every request passes.  Handlers translate requests into
calls on the ``ils_bridge`` ``Library`` facade and ``Outcome``s back into
replies; ``base`` holds what they share.
"""
