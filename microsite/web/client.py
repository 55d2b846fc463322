"""Who is asking: the client's address as this app sees it.

Behind a proxy, that is the proxy's address unless Werkzeug's ProxyFix is configured with the
number of trusted hops (docs/deploy.md): the sign-in throttle, sessions and view counting all
read it from here, so they agree on who a client is.
"""

from __future__ import annotations

from flask import request


def client_address() -> str:
    return request.remote_addr or "127.0.0.1"
