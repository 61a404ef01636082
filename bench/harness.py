"""Harness of the api_sync benchmark: helpers, HTTP client, the server and receiver
processes, the in-process Odoo registry."""

# pylint: disable=print-used
import base64
import contextlib
import datetime
import json
import math
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
API = "/api/sync/v1"

# Sizes: (normal, quick)
SIZES = {
    "auth_n": (300, 40),
    "auth_warm": (20, 10),
    "batch_size": (1000, 1000),
    "batch_runs": (5, 2),
    "single_n": (200, 30),
    "single_warm": (10, 5),
    "outbox_n": (1000, 200),
    "outbox_block": (100, 50),
    "webhooks": (5, 5),
    "dispatch_n": (2000, 250),
    "latency_n": (30, 5),
    "latency_warm": (3, 1),
}


ENGINE_SETTINGS = {"api_sync.dispatch_senders": 16, "api_sync.sink_concurrency": 8}
LATENCY_SPACING = 0.5  # seconds between two latency samples
LATENCY_TIMEOUT = 10  # seconds a latency sample waits for its delivery


class BenchError(Exception):
    """A measurement could not run (not a slow figure: figures are never judged)."""


# -- small helpers -------------------------------------------------------------------------------
def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def median(values):
    return statistics.median(values) if values else float("nan")


def p90(values):
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def ms(seconds):
    return f"{seconds * 1000:.2f}"


def ratio(value, reference):
    if not reference or math.isnan(reference) or math.isnan(value):
        return "n/a"
    return f"{value / reference:.2f}x"


def free_port(start, exclude=()):
    for port in range(start, start + 300):
        if port in exclude:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            # as Odoo binds: a port whose old connections linger in TIME_WAIT is free
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise BenchError(f"no free TCP port on 127.0.0.1 in {start}..{start + 299}")


def interleaved(variants, n, warm):
    """Run ``fn(i)`` of each ``(name, fn)`` in turn, ``warm + n`` rounds (the order alternates
    to cancel order effects and drifts of a shared machine); returns ``{name: [seconds]}``."""
    samples = {name: [] for name, _fn in variants}
    for i in range(warm + n):
        for name, fn in variants if i % 2 == 0 else variants[::-1]:
            seconds = fn(i)
            if i >= warm:
                samples[name].append(seconds)
    return samples


# -- HTTP client -----------------------------------------------------------------------------------
class Client:
    """One keep-alive ``requests.Session`` to the server; the body is serialized before timing."""

    def __init__(self, base_url, db):
        self.base_url = base_url
        self.db = db
        self.session = requests.Session()

    def call(self, method, path, token=None, body=None, params=None, expect=(200, 201)):
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        headers["X-Odoo-Database"] = self.db  # both APIs: no database discovery per request
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        response = self.session.request(
            method, self.base_url + path, data=data, params=params, headers=headers, timeout=300
        )
        elapsed = time.perf_counter() - started
        if response.status_code not in expect:
            raise BenchError(
                f"{method} {path} answered {response.status_code}: {response.text[:400]}"
            )
        return elapsed, response


# -- processes -------------------------------------------------------------------------------------
class Processes:
    """The receiver and the Odoo server started by this script (and only those are stopped)."""

    def __init__(self, args, odoo_args):
        self.args = args
        self.odoo_args = odoo_args
        self.receiver = None
        self.receiver_port = None
        self.server = None
        self.server_log = os.path.join(args.results, "server.log")
        self.http_port = None

    def start_receiver(self):
        self.receiver = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "receiver.py"), "--port", "0"],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        line = self.receiver.stdout.readline().strip()
        if not line.startswith("PORT "):
            raise BenchError(f"the receiver did not start (said {line!r})")
        self.receiver_port = int(line.split()[1])
        return self.receiver_port

    def start_server(self):
        last_error = None
        for attempt in range(3):
            http_port = free_port(self.args.port_start)
            gevent_port = free_port(http_port + 1, exclude={http_port})
            cmd = [
                sys.executable,
                os.path.join(HERE, "odoo_server.py"),
                f"--addons-path={self.args.addons_path}",
                f"--data-dir={self.args.data_dir}",
                *self.odoo_args,
                "-d",
                self.args.db,
                f"--db-filter=^{self.args.db}$",
                "--no-database-list",
                "--http-interface=127.0.0.1",
                f"--http-port={http_port}",
                f"--gevent-port={gevent_port}",
                "--workers=2",
                "--max-cron-threads=1",
                "--limit-request=100000",
                "--limit-time-real=600",
                "--limit-time-cpu=600",
                f"--log-level={os.environ.get('BENCH_SERVER_LOG_LEVEL', 'warn')}",
            ]
            log_file = open(self.server_log, "a" if attempt else "w")  # noqa: SIM115
            log_file.write(f"\n==== {datetime.datetime.now().isoformat()} {' '.join(cmd)}\n")
            log_file.flush()
            self.server = subprocess.Popen(
                cmd,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            log_file.close()
            self.http_port = http_port
            log(
                f"Odoo server pid {self.server.pid} on http://127.0.0.1:{http_port} "
                f"(gevent port {gevent_port}), log {self.server_log}"
            )
            try:
                self._wait_ping(timeout=180)
                return http_port
            except BenchError as exc:
                last_error = exc
                self.stop_server()
                log(f"server did not come up ({exc}); retrying on other ports")
        raise BenchError(f"the Odoo server did not start: {last_error}")

    def _wait_ping(self, timeout):
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.http_port}{API}/ping"
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise BenchError(
                    f"exited with status {self.server.returncode}, see {self.server_log}"
                )
            with contextlib.suppress(requests.RequestException, ValueError):
                response = requests.get(url, timeout=30)
                if response.status_code == 200 and response.json().get("success"):
                    return
            time.sleep(0.5)
        raise BenchError(f"no answer from {url} in {timeout} s")

    @staticmethod
    def _stop(proc, grace):
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the group of the process we started
            proc.wait(10)

    def cron_workers(self):
        """``{pid: pause in s}`` of the server's cron workers. Odoo's ``WorkerCron`` is the only
        child that lowers its priority (``os.nice(10)``); after each wake-up it sleeps
        ``pid / 100 % 0.1`` s (its guard against all workers waking at once)."""
        import psutil  # noqa: PLC0415 -- an Odoo requirement, only needed here

        children = psutil.Process(self.server.pid).children(recursive=True)
        return {c.pid: round(c.pid / 100 % 0.1, 4) for c in children if c.nice() >= 10}

    def stop_server(self):
        if self.server is not None:
            pid = self.server.pid
            self._stop(self.server, grace=30)
            # the prefork master stops its workers; make sure none of them outlives it
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            self.server = None

    def stop_all(self):
        self.stop_server()
        if self.receiver is not None:
            self._stop(self.receiver, grace=5)
            self.receiver = None


# -- in-process Odoo -------------------------------------------------------------------------------
class InProcess:
    """This process's own Odoo registry on the benchmark database."""

    def __init__(self, args, odoo_args):
        import odoo  # noqa: PLC0415
        from odoo.tools import config  # noqa: PLC0415

        config.parse_config(
            [
                f"--addons-path={args.addons_path}",
                f"--data-dir={args.data_dir}",
                *odoo_args,
                "-d",
                args.db,
                "--http-interface=127.0.0.1",
                "--log-level=warn",
            ],
            setup_logging=True,
        )
        from odoo.modules.registry import Registry  # noqa: PLC0415

        self.odoo = odoo
        self.registry = Registry(args.db)

    @contextlib.contextmanager
    def env(self):
        """A superuser environment on a fresh cursor; committed on exit."""
        self.registry = self.registry.check_signaling()
        with self.registry.cursor() as cr:
            yield self.odoo.api.Environment(cr, self.odoo.SUPERUSER_ID, {})
        self.registry.signal_changes()


def addon_revision():
    """The addon's git commit, and whether the work tree has changes (figures of a revision)."""
    addon = os.path.dirname(HERE)
    try:
        commit = subprocess.run(
            ["git", "-C", addon, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", addon, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"{addon} (not a git checkout)"
    return f"{addon} at commit {commit}" + (" + uncommitted changes" if dirty else "")


def partner_vals(tag, index):
    return {
        "name": f"Bench {tag} {index}",
        "email": f"bench.{tag}.{index}@example.com",
        "phone": f"+33 1 23 45 {index % 100:02d} {index % 97:02d}",
        "city": f"City {index % 50}",
    }


def webhook_secret():
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
