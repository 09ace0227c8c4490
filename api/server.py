"""`paperlens serve`: the library opened first, then uvicorn configured the way the API needs.

Opening the library before the server starts means a data dir locked by another process stops the
command with the lock's own message (and a non-zero exit), before anything says "serving on".
`uvicorn_config` is also what the tests' servers run (tests/support.py: serving), so they test
this configuration, not uvicorn's defaults.
"""

from __future__ import annotations

import json
import sys

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from paperlens.settings import Settings

from .problems import PROBLEM

GRACEFUL_SHUTDOWN_S = 30


class ProblemH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, answering a request it cannot parse (bytes that are not ASCII
    in the URL, headers too large, a broken request line) with the API's problem+json shape
    instead of a text/plain 400."""

    def send_400_response(self, msg: str) -> None:
        body = json.dumps({
            "type": "about:blank", "title": "Bad Request", "status": 400,
            "detail": "the HTTP request could not be parsed (e.g. a URL that is not percent-encoded ASCII, "
                      "or headers over the size limit)",
            "errors": [{"field": "request", "message": msg}],
        }).encode()
        headers = [(b"content-type", PROBLEM.encode()), (b"content-length", str(len(body)).encode()),
                   (b"connection", b"close")]
        for event in (h11.Response(status_code=400, headers=headers, reason=b"Bad Request"), h11.Data(data=body),
                      h11.EndOfMessage()):
            self.transport.write(self.conn.send(event))
        self.transport.close()


def uvicorn_config(app, host: str, port: int, **kwargs) -> uvicorn.Config:
    kwargs.setdefault("log_level", "warning")
    return uvicorn.Config(app, host=host, port=port, http=ProblemH11Protocol,
                          timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S, **kwargs)


def serve(settings: Settings, host: str, port: int) -> None:
    """Open the library (StoreLocked if another process has the data dir), then serve until stopped."""
    from paperlens.ingest.pipeline import open_library

    from .app import create_app
    from .security import check_bind

    check_bind(host, settings)  # no keys on a non-loopback address: refuse, naming the setting
    settings = settings.model_copy(update={"host": host, "port": port})  # the Host allowlist knows the bind
    library = open_library(settings)
    try:
        app = create_app(settings, library, owns_library=True)  # closed in the app's shutdown
    except BaseException:
        library.close()
        raise
    print(f"paperlens: serving on http://{host}:{port}", file=sys.stderr)
    uvicorn.Server(uvicorn_config(app, host, port)).run()
