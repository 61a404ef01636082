"""A local webhook receiver for the api_sync benchmark (127.0.0.1 only).

Every POST is answered ``200 {"ok": true}`` at once (``/delay/<ms>/...``: after <ms>;
``/hang/...``: after 15 s, past the dispatcher's timeout, and not recorded); its arrival
time (``time.time()``, comparable across processes of this machine), ``webhook-id`` header
and payload are recorded.
Control endpoints for the benchmark driver:

- ``GET  /_bench/stats``     ``{"count", "distinct", "duplicates", "first", "last"}`` (distinct:
  different (path, webhook-id) pairs: each subscription has its own path)
- ``POST /_bench/reset``     forget every arrival
- ``GET  /_bench/wait?field=city&value=X&timeout=15``  block until a payload whose
  ``data[field] == value`` has arrived: ``{"found": true, "t": <arrival time>, "id": ...}``

Run: ``python3 bench/receiver.py [--port 0]``; prints ``PORT <n>`` on its first line.
"""

# pylint: disable=print-used  (a command-line program: it prints its port)
import argparse
import contextlib
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Store:
    def __init__(self):
        self.cond = threading.Condition()
        self.reset()

    def reset(self):
        with self.cond:
            self.count = 0
            self.ids = set()
            self.duplicates = 0
            self.first = None
            self.last = None
            self.by_marker = {}  # (field, value) -> (arrival time, webhook id)

    def add(self, arrival, endpoint, webhook_id, payload):
        """One delivery; a duplicate is the same ``webhook-id`` twice at the same endpoint (one
        event goes to every subscription with the same id)."""
        with self.cond:
            self.count += 1
            if (endpoint, webhook_id) in self.ids:
                self.duplicates += 1
            self.ids.add((endpoint, webhook_id))
            self.first = arrival if self.first is None else self.first
            self.last = arrival
            data = payload.get("data") if isinstance(payload, dict) else None
            if isinstance(data, dict):
                for field, value in data.items():
                    if isinstance(value, str):
                        self.by_marker.setdefault((field, value), (arrival, webhook_id))
            self.cond.notify_all()

    def stats(self):
        with self.cond:
            return {
                "count": self.count,
                "distinct": len(self.ids),
                "duplicates": self.duplicates,
                "first": self.first,
                "last": self.last,
            }

    def wait(self, field, value, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while (field, value) not in self.by_marker:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return {"found": False}
                self.cond.wait(remaining)
            arrival, webhook_id = self.by_marker[(field, value)]
            return {"found": True, "t": arrival, "id": webhook_id}


STORE = Store()


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # many senders connect at once: no dropped SYN, no 1 s retry


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the dispatcher's requests.Session expects
    # one send() per response (headers and body together) and no Nagle delay: otherwise the
    # body waits for the client's delayed ACK of the headers, ~40 ms per request
    wbufsize = 64 * 1024

    def setup(self):  # pylint: disable=missing-return  (setup() returns nothing)
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args):
        """Quiet: no line per request."""

    def _answer(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        arrival = time.time()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = urlsplit(self.path).path
        if path == "/_bench/reset":
            STORE.reset()
            self._answer(200, {"ok": True})
            return
        try:
            payload = json.loads(raw) if raw else {}
        except ValueError:
            payload = {}
        webhook_id = self.headers.get("webhook-id") or (
            payload.get("id") if isinstance(payload, dict) else None
        )
        if path.startswith("/hang/"):  # answers after the dispatcher's 10 s timeout
            time.sleep(15)
            self._answer(200, {"ok": True})
            return
        if path.startswith("/delay/"):  # /delay/<ms>/...: a receiver answering in <ms>
            time.sleep(int(path.split("/")[2]) / 1000)
        self._answer(200, {"ok": True})
        STORE.add(arrival, path, webhook_id, payload)

    def do_GET(self):
        parts = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        if parts.path == "/_bench/stats":
            self._answer(200, STORE.stats())
        elif parts.path == "/_bench/wait":
            timeout = min(float(query.get("timeout", 15)), 120)
            self._answer(200, STORE.wait(query.get("field", ""), query.get("value", ""), timeout))
        else:
            self._answer(200, {"ok": True})


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    args = parser.parse_args()
    server = _Server(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
