"""A local stand-in for a Qdrant server's REST API over real HTTP on 127.0.0.1, enough for what
ClientStore sends when it creates a collection, writes and searches:

    with FakeQdrant() as server:
        store = ClientStore(server.url, spec)

It keeps no vectors: it answers each request with the shape the real server gives (an empty
collection), records every request with its parsed JSON body, and `fail` makes requests whose path
contains a given part answer HTTP 500, so the client's own exception types reach the store.
No Qdrant server can be installed where paperlens is developed; this checks what paperlens asks a
server for (quantization, on-disk vectors, shards, search parameters), not what a server does.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Request:
    method: str
    path: str
    body: Any


@dataclass
class FakeQdrant:
    requests: list[Request] = field(default_factory=list)
    fail: set[str] = field(default_factory=set)  # path parts that answer 500
    collections: dict[str, Any] = field(default_factory=dict)  # name -> create body

    def __enter__(self) -> FakeQdrant:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                path = urlsplit(self.path).path
                body = json.loads(raw) if raw else None
                fake.requests.append(Request(self.command, path, body))
                status, result = fake.route(self.command, path, body)
                if path == "/":  # the server's version banner is not wrapped
                    data = json.dumps(result).encode()
                else:
                    data = json.dumps({"result": result, "status": "ok", "time": 0.0} if status == 200
                                      else {"status": {"error": result}, "time": 0.0}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = _answer

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        if any(part in path for part in self.fail):
            return 500, f"injected failure of {path}"
        parts = path.strip("/").split("/")
        if path == "/":
            return 200, {"title": "qdrant - vector search engine", "version": "1.20.0"}
        if parts[0] != "collections" or len(parts) < 2:
            return 404, f"no route {path}"
        name, rest = parts[1], parts[2:]
        if rest == ["exists"]:
            return 200, {"exists": name in self.collections}
        if not rest and method == "PUT":
            self.collections[name] = body
            return 200, True
        if rest == ["index"] or (rest == ["points"] and method == "PUT"):
            return 200, {"operation_id": len(self.requests), "status": "completed"}
        if rest == ["points", "query", "batch"]:
            return 200, [{"points": []} for _ in body["searches"]]
        if rest == ["points", "count"]:
            return 200, {"count": 0}
        return 404, f"no route {path}"

    def bodies(self, method: str, suffix: str) -> list[Any]:
        return [r.body for r in self.requests if r.method == method and r.path.endswith(suffix)]
