"""The dataflow API: `GET /dataflow` answers the running flow's JSON view.

`python -m bytewax.run` turns it on when `BYTEWAX_DATAFLOW_API_ENABLED` is
set (to anything). It then writes the JSON to
`$BYTEWAX_DATAFLOW_API_CACHE_PATH/dataflow.json` (default: the current
directory) and serves it on `0.0.0.0:$BYTEWAX_DATAFLOW_API_PORT` (default
3030) until the run ends.
"""

import contextlib
import os
import threading
from pathlib import Path
from typing import Iterator, Optional

from bytewax._encoder import encode_dataflow

__all__ = ["DataflowApiServer", "serve_dataflow_api_if_enabled"]

DEFAULT_PORT = 3030
_ROUTE = "/dataflow"


def _handler_for(body: bytes):
    """A request handler class that serves `body` at the dataflow route."""
    # `http.server` is imported only when the API is on: it pulls in `ssl` and `email`,
    # some 30 ms that every run would pay at start, and `-p N` twice (parent, then child).
    from http.server import BaseHTTPRequestHandler

    class DataflowRequestHandler(BaseHTTPRequestHandler):
        """Answers `/dataflow` (and `/dataflow/`) with the JSON; 404 elsewhere."""

        def _is_route(self) -> bool:
            path = self.path.split("?", 1)[0]
            return path in (_ROUTE, _ROUTE + "/")

        def _send(self, status: int, payload: bytes, include_body: bool = True) -> None:
            self.send_response(status)
            if payload:
                self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            if include_body:
                self.wfile.write(payload)

        def do_GET(self) -> None:  # noqa: N802 - name fixed by http.server
            if self._is_route():
                self._send(200, body)
            else:
                self._send(404, b"")

        def do_HEAD(self) -> None:  # noqa: N802
            if self._is_route():
                self._send(200, body, include_body=False)
            else:
                self._send(404, b"")

        def _refuse(self) -> None:
            # The route exists but only for reading, as in Bytewax 0.16.
            self._send(405 if self._is_route() else 404, b"")

        do_POST = do_PUT = do_DELETE = do_PATCH = _refuse  # noqa: N815

        def log_message(self, format: str, *args) -> None:  # noqa: A002
            # Keep the user's stderr for the flow's own output and errors.
            pass

    return DataflowRequestHandler


class DataflowApiServer:
    """An HTTP server in a daemon thread that serves one dataflow JSON text."""

    def __init__(self, dataflow_json: str, host: str = "0.0.0.0", port: int = DEFAULT_PORT):
        from http.server import ThreadingHTTPServer

        self._httpd = ThreadingHTTPServer((host, port), _handler_for(dataflow_json.encode()))
        self._httpd.daemon_threads = True
        self._thread: Optional[threading.Thread] = None

    @property
    def port(self) -> int:
        """The port actually listened on (useful after asking for port 0)."""
        return self._httpd.server_address[1]

    def start(self) -> "DataflowApiServer":
        """Start answering requests in a background daemon thread."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="bytewax-dataflow-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop answering and free the port."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> "DataflowApiServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def _port_from_env() -> int:
    text = os.environ.get("BYTEWAX_DATAFLOW_API_PORT")
    if text is None:
        return DEFAULT_PORT
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"BYTEWAX_DATAFLOW_API_PORT must be a port number; got {text!r}") from None


@contextlib.contextmanager
def serve_dataflow_api_if_enabled(flow) -> Iterator[Optional[DataflowApiServer]]:
    """While the block runs, serve `flow`'s JSON if `BYTEWAX_DATAFLOW_API_ENABLED` is set.

    Yields the running server, or `None` when the API is not enabled.
    """
    if "BYTEWAX_DATAFLOW_API_ENABLED" not in os.environ:
        yield None
        return
    dataflow_json = encode_dataflow(flow)
    cache_dir = Path(os.environ.get("BYTEWAX_DATAFLOW_API_CACHE_PATH", "."))
    (cache_dir / "dataflow.json").write_text(dataflow_json)
    with DataflowApiServer(dataflow_json, port=_port_from_env()) as server:
        yield server
