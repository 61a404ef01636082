"""Real HTTP receivers on 127.0.0.1 for the webhook tests (issue #4).

:class:`WebhookReceiver` checks every request the way a Standard Webhooks consumer does
(https://www.standardwebhooks.com/): JSON body, ``webhook-id``/``webhook-timestamp``/
``webhook-signature`` headers, a timestamp within five minutes, ``v1,`` + base64 HMAC-SHA256 of
``{id}.{timestamp}.{body}`` keyed by the base64-decoded ``whsec_`` secret, and the subscription's
own authentication header. A request that fails a check is answered 401 and not accepted.
Verified requests get the next scripted :class:`Answer` (200 when none is left); only those
answered 2xx count as received.

:class:`SilentListener` accepts TCP connections and never answers (a hung receiver).

Nothing here imports Odoo: the helpers can be used from a standalone script as well.
"""

import base64
import hashlib
import hmac
import json
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE = 5 * 60  # seconds: Standard Webhooks' recommended timestamp tolerance
CHUNK = 64 * 1024


@dataclass
class Answer:
    """A scripted answer: ``status``, extra ``headers``, a ``body``, or ``stream`` bytes of
    filler (a huge response, written chunk by chunk until the client stops reading), or a
    ``trickle`` of one byte every ``trickle`` seconds (for at most ``trickle_for`` seconds)."""

    status: int = 200
    headers: dict = field(default_factory=dict)
    body: bytes = b'{"ok": true}'
    stream: int = 0
    trickle: float = 0
    trickle_for: float = 25


def expected_signature(secret, msg_id, timestamp, body):
    """``v1,<base64 HMAC-SHA256>`` computed independently of the addon's ``tools.signing``."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


class _Handler(BaseHTTPRequestHandler):
    server_version = "TestReceiver/1"
    disable_nagle_algorithm = True  # headers and body are written apart: no 40 ms ACK wait

    def log_message(self, *args):
        """Silence the default access log."""

    def do_POST(self):
        receiver = self.server.receiver
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        problem = receiver._verify(self.headers, body)
        record = {
            "path": self.path,
            "headers": dict(self.headers.items()),
            "body": body,
            "problem": problem,
            "at": time.time(),
        }
        if problem:
            answer = Answer(401, body=json.dumps({"error": problem}).encode())
        else:
            answer = receiver._next_answer()
        record["status"] = answer.status
        with receiver.lock:
            receiver.requests.append(record)
            if not problem and 200 <= answer.status < 300:
                receiver.received.append(
                    {
                        "id": self.headers["webhook-id"],
                        "timestamp": self.headers["webhook-timestamp"],
                        "payload": json.loads(body),
                        "headers": record["headers"],
                        "at": record["at"],
                    }
                )
        self._send(answer, record)

    def _send(self, answer, record):
        try:
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            size = answer.stream or (100_000 if answer.trickle else len(answer.body))
            self.send_header("Content-Length", str(size))
            self.send_header("Content-Type", "application/json")
            self.send_header("Connection", "close")
            self.end_headers()
            if answer.trickle:
                deadline = time.monotonic() + answer.trickle_for
                while time.monotonic() < deadline:
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    record["bytes_sent"] = record.get("bytes_sent", 0) + 1
                    time.sleep(answer.trickle)
                return
            if not answer.stream:
                self.wfile.write(answer.body)
                return
            chunk = b"x" * CHUNK
            sent = 0
            while sent < answer.stream:
                self.wfile.write(chunk[: answer.stream - sent])
                sent += min(CHUNK, answer.stream - sent)
                record["bytes_sent"] = sent
        except (BrokenPipeError, ConnectionResetError):
            record["client_hung_up"] = True
        finally:
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # many senders connect at once: no dropped SYN, no 1 s retry


class WebhookReceiver:
    """A Standard Webhooks consumer listening on ``127.0.0.1`` (a free port) in a thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.server = None
        self.thread = None
        self.reset()

    # -- life cycle ------------------------------------------------------------------------------
    def start(self):
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.receiver = self
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True,
            name="webhook-receiver",
        )  # fmt: skip
        self.thread.start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(5)
            self.server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def reset(self, secret=None, auth=None):
        """Forget what was received; expect ``secret`` and the ``auth`` (name, value) header."""
        with self.lock:
            self.secret = secret
            self.auth = auth
            self.answers = []
            self.requests = []
            self.received = []
            self.failing = None

    # -- configuration ---------------------------------------------------------------------------
    @property
    def port(self):
        return self.server.server_address[1]

    def url(self, path="/hook"):
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, *answers):
        """Queue answers (an :class:`Answer` or a bare status) for the next verified requests."""
        with self.lock:
            self.answers.extend(a if isinstance(a, Answer) else Answer(a) for a in answers)

    def fail_randomly(self, ratio, seed, status=500):
        """Answer ``status`` to a ``ratio`` of the requests, drawn from a seeded generator."""
        with self.lock:
            self.failing = (ratio, random.Random(seed), status)

    def _next_answer(self):
        with self.lock:
            if self.answers:
                return self.answers.pop(0)
            if self.failing and self.failing[1].random() < self.failing[0]:
                return Answer(self.failing[2])
            return Answer()

    # -- the consumer's checks ---------------------------------------------------------------------
    def _verify(self, headers, body):
        """None when the request is a valid signed webhook, else the reason it is not."""
        if (headers.get("Content-Type") or "").split(";")[0].strip() != "application/json":
            return "content type is not application/json"
        msg_id = headers.get("webhook-id")
        timestamp = headers.get("webhook-timestamp")
        signatures = headers.get("webhook-signature")
        if not (msg_id and timestamp and signatures):
            return "missing webhook-id, webhook-timestamp or webhook-signature"
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TOLERANCE:
            return "timestamp outside the tolerance"
        if not self.secret:
            return "no secret configured"
        expected = expected_signature(self.secret, msg_id, timestamp, body)
        if not any(hmac.compare_digest(expected, s) for s in signatures.split()):
            return "bad signature"
        if self.auth and headers.get(self.auth[0]) != self.auth[1]:
            return f"bad {self.auth[0]} header"
        try:
            payload = json.loads(body)
        except ValueError:
            return "body is not JSON"
        if not isinstance(payload, dict) or payload.get("id") != msg_id:
            return "payload id differs from webhook-id"
        return None

    # -- results -----------------------------------------------------------------------------------
    def ids(self):
        """webhook-id of the received (accepted) events, in order of receipt."""
        with self.lock:
            return [item["id"] for item in self.received]

    def payloads(self):
        with self.lock:
            return [item["payload"] for item in self.received]


class SilentListener:
    """A TCP port on 127.0.0.1 that accepts connections (kernel backlog) and never answers."""

    def __init__(self):
        self.sock = None

    def __enter__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        return self

    def __exit__(self, *exc):
        self.sock.close()

    def url(self, path="/hook"):
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}{path}"
