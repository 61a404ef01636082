#!/usr/bin/env python3
"""Benchmark of api_sync against Odoo's own ORM and ``/json/2`` (issues 2, 3 and 4).

Normally started by ``bench/run.sh`` (``make bench``), which creates the database with api_sync
installed and passes the database arguments after ``--``. This script:

- prepares the database in-process (API key for admin, high rate limits, http/private webhook
  receivers allowed, products; the other crons are postponed so they do not run during the
  measurements),
- starts a local webhook receiver (bench/receiver.py) and a real Odoo server
  (``--workers=2 --max-cron-threads=1``) on 127.0.0.1,
- measures: 1. authentication cost, 2. 1000-record batch create, 3. single operations,
  4. outbox overhead on the write path, 5. webhook dispatch throughput and commit-to-receipt
  latency,
- stops the server and the receiver and prints the table (also written to
  ``<results>/latest.txt``).

These are benchmarks, not tests: figures are printed, never judged. The exit status is 1 only
when a measurement could not run.
"""

# pylint: disable=print-used  (a command-line program: it prints the benchmark's table)
import argparse
import base64
import contextlib
import datetime
import json
import math
import os
import platform
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
import traceback

import requests
from engine import DISPATCHERS, EngineScenarios, percentile

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


# -- the benchmark ---------------------------------------------------------------------------------
class Bench:
    def __init__(self, args, odoo_args):
        self.args = args
        self.odoo_args = odoo_args
        self.n = {key: value[1 if args.quick else 0] for key, value in SIZES.items()}
        self.procs = Processes(args, odoo_args)
        self.results = {}  # section -> dict of figures, or {"error": ...}
        self.notes = []
        self.odoo = None
        self.client = None
        self.api_key = None
        self.jwt = None
        self.fixtures = {}
        self.lock_cr = None
        self.load_start = os.getloadavg()

    # -- set-up ----------------------------------------------------------------------------------
    def setup_database(self):
        n = self.n
        with self.odoo.env() as env:
            ICP = env["ir.config_parameter"].sudo()
            for key, value in {
                # the per-user default limits (100/min, 1000/h) would stop the benchmark
                "api_sync.rate_limit_minute": "1000000000",
                "api_sync.rate_limit_hour": "1000000000",
                "api_sync.webhook_allow_http": "True",
                "api_sync.webhook_allow_private_networks": "True",
            }.items():
                ICP.set_param(key, value)
            admin = env.ref("base.user_admin")
            self.api_key = (
                env["res.users.apikeys"].with_user(admin).sudo()._generate(None, "bench", None)
            )
            dispatch = env.ref("api_sync.ir_cron_dispatch")
            others = env["ir.cron"].search([("id", "!=", dispatch.id)])
            others.write({"nextcall": datetime.datetime.now() + datetime.timedelta(days=1)})
            self.fixtures["admin_id"] = admin.id
            self.fixtures["dispatch_cron_id"] = dispatch.id
            Partner = env["res.partner"]
            self.fixtures["read_id"] = Partner.create(partner_vals("read", 0)).id
            self.fixtures["update_ids"] = Partner.create(
                [partner_vals("update", i) for i in range(3)]
            ).ids
            count = max(n["outbox_block"], n["dispatch_n"] // n["webhooks"] + 10)
            products = env["product.product"].create(
                [{"name": f"Bench product {i}", "default_code": f"BP{i}"} for i in range(count)]
            )
            self.fixtures["product_ids"] = products.ids
        self.notes.append("other crons postponed by a day; rate limits raised to 10^9 for the run")

    def login(self):
        _t, response = self.client.call(
            "POST",
            f"{API}/auth/login",
            body={"username": "admin", "password": "admin"},
            expect=(200, 401),
        )
        if response.status_code == 401:  # no "admin" password: an API key is a password too
            _t, response = self.client.call(
                "POST", f"{API}/auth/login", body={"username": "admin", "password": self.api_key}
            )
        self.jwt = response.json()["data"]["access_token"]

    def warm_up_workers(self):
        """Each prefork worker loads the registry on its first request: make both do it."""
        for _i in range(20):
            self.client.call("GET", f"{API}/auth/verify", token=self.jwt)
            self.client.call("POST", "/json/2/res.users/context_get", token=self.api_key, body={})

    # -- 1. authentication -----------------------------------------------------------------------
    def bench_auth(self):
        n, warm = self.n["auth_n"], self.n["auth_warm"]
        c = self.client
        variants = [
            ("verify_jwt", lambda i: c.call("GET", f"{API}/auth/verify", token=self.jwt)[0]),
            ("verify_key", lambda i: c.call("GET", f"{API}/auth/verify", token=self.api_key)[0]),
            (
                "json2",
                lambda i: c.call(
                    "POST", "/json/2/res.users/context_get", token=self.api_key, body={}
                )[0],
            ),
            ("ping", lambda i: c.call("GET", f"{API}/ping")[0]),
        ]
        samples = interleaved(variants, n, warm)
        return {"n": n, "samples": samples}

    # -- 2. batch create -------------------------------------------------------------------------
    def bench_batch(self):
        size, runs = self.n["batch_size"], self.n["batch_runs"]
        c = self.client

        def orm(tag):
            vals_list = [partner_vals(tag, i) for i in range(size)]
            with self.odoo.env() as env:
                started = time.perf_counter()
                env["res.partner"].create(vals_list)
                env.flush_all()
                env.cr.commit()
                return time.perf_counter() - started

        def batch(tag):
            body = {
                "operations": [
                    {"method": "create", "data": partner_vals(tag, i)} for i in range(size)
                ],
                "options": {"transaction": True},
            }
            elapsed, response = c.call(
                "POST", f"{API}/res.partner/batch", token=self.jwt, body=body
            )
            summary = response.json().get("summary", {})
            if summary.get("succeeded") != size:
                raise BenchError(f"batch create: unexpected summary {summary}")
            return elapsed

        def json2(tag):
            body = {"vals_list": [partner_vals(tag, i) for i in range(size)]}
            elapsed, response = c.call(
                "POST", "/json/2/res.partner/create", token=self.api_key, body=body
            )
            if len(response.json()) != size:
                raise BenchError("json/2 create: unexpected answer")
            return elapsed

        variants = [("orm", orm), ("batch", batch), ("json2", json2)]
        samples = {name: [] for name, _fn in variants}
        for run in range(runs + 1):  # run 0 warms up
            order = variants[run % 3 :] + variants[: run % 3]
            for name, fn in order:
                seconds = fn(f"{name}{run}")
                if run:
                    samples[name].append(seconds)
            log(
                f"  batch run {run}/{runs}: "
                + ", ".join(
                    f"{name} {ms(samples[name][-1]) if run else 'warm-up'} ms"
                    for name, _fn in variants
                )
            )
        return {"size": size, "runs": runs, "samples": samples}

    # -- 3. single operations --------------------------------------------------------------------
    def bench_single(self):
        n, warm = self.n["single_n"], self.n["single_warm"]
        c = self.client
        jwt, key = self.jwt, self.api_key
        read_id = self.fixtures["read_id"]
        upd = dict(zip(("jwt", "key", "json2"), self.fixtures["update_ids"], strict=True))
        results = {}

        def api_create(token, tag):
            return lambda i: c.call(
                "POST",
                f"{API}/res.partner",
                token=token,
                body={"data": partner_vals(tag, i)},
                expect=(201,),
            )[0]

        def api_update(token, tag):
            return lambda i: c.call(
                "PUT",
                f"{API}/res.partner/{upd[tag]}",
                token=token,
                body={"data": {"city": f"Upd {tag} {i}"}},
            )[0]

        ops = {
            "create": [
                ("jwt", api_create(jwt, "jwt")),
                ("key", api_create(key, "key")),
                (
                    "json2",
                    lambda i: c.call(
                        "POST",
                        "/json/2/res.partner/create",
                        token=key,
                        body={"vals_list": [partner_vals("s-json2", i)]},
                    )[0],
                ),
            ],
            "read": [
                (
                    "jwt",
                    lambda i: c.call(
                        "GET",
                        f"{API}/res.partner/{read_id}",
                        token=jwt,
                        params={"fields": "name,email"},
                    )[0],
                ),
                (
                    "key",
                    lambda i: c.call(
                        "GET",
                        f"{API}/res.partner/{read_id}",
                        token=key,
                        params={"fields": "name,email"},
                    )[0],
                ),
                (
                    "json2",
                    lambda i: c.call(
                        "POST",
                        "/json/2/res.partner/read",
                        token=key,
                        body={"ids": [read_id], "fields": ["name", "email"]},
                    )[0],
                ),
            ],
            "update": [
                ("jwt", api_update(jwt, "jwt")),
                ("key", api_update(key, "key")),
                (
                    "json2",
                    lambda i: c.call(
                        "POST",
                        "/json/2/res.partner/write",
                        token=key,
                        body={"ids": [upd["json2"]], "vals": {"city": f"Upd json2 {i}"}},
                    )[0],
                ),
            ],
            "search": [
                (
                    "jwt",
                    lambda i: c.call(
                        "GET",
                        f"{API}/res.partner/search",
                        token=jwt,
                        params={"limit": 50, "fields": "name,email"},
                    )[0],
                ),
                (
                    "key",
                    lambda i: c.call(
                        "GET",
                        f"{API}/res.partner/search",
                        token=key,
                        params={"limit": 50, "fields": "name,email"},
                    )[0],
                ),
                (
                    "json2",
                    lambda i: c.call(
                        "POST",
                        "/json/2/res.partner/search_read",
                        token=key,
                        body={"domain": [], "fields": ["name", "email"], "limit": 50},
                    )[0],
                ),
            ],
        }
        # sanity: the answers have the expected shape
        _t, r = c.call(
            "GET",
            f"{API}/res.partner/search",
            token=jwt,
            params={"limit": 50, "fields": "name,email"},
        )
        if len(r.json()["records"]) != 50:
            raise BenchError(f"search answered {len(r.json()['records'])} records, not 50")
        _t, r = c.call(
            "POST",
            "/json/2/res.partner/search_read",
            token=key,
            body={"domain": [], "fields": ["name", "email"], "limit": 50},
        )
        if len(r.json()) != 50:
            raise BenchError("json/2 search_read did not answer 50 records")
        for op, variants in ops.items():
            results[op] = interleaved(variants, n, warm)
            log(
                f"  {op}: "
                + ", ".join(f"{name} {ms(median(s))} ms" for name, s in results[op].items())
            )
        return {"n": n, "ops": results}

    # -- cron lock: keep the server's dispatcher away while we measure in-process ----------------
    # The server's cron worker must not dispatch while we measure in-process (4 and 5a).
    # 4: the commits measured must still pay for the cron trigger they create (an
    #    ir_cron_trigger row and a NOTIFY), so the cron stays active: its own schedule (nextcall)
    #    is postponed, and while a block of writes runs we hold the cron's row lock, which makes
    #    the cron worker skip the job (it acquires jobs FOR NO KEY UPDATE SKIP LOCKED) while the
    #    FK checks of new triggers (KEY SHARE) go through. Between blocks the queued deliveries
    #    are deleted, then the lock released: the cron may then run once, on an empty queue.
    #    The lock is held for one block only: a long-open transaction would hold back
    #    PostgreSQL's cleanup horizon and bloat the rows updated meanwhile, skewing the figures.
    # 5a: the cron is simply deactivated (no trigger is created then); the due triggers left by
    #    section 4 are deleted before it is reactivated, otherwise they would stand for
    #    "the cron is woken already" (api.sync.dispatcher._trigger) while nothing wakes it.
    def dispatch_cron(self, postpone=None, active=None, clear_triggers=False):
        import psycopg2  # noqa: PLC0415

        for attempt in range(10):  # the cron worker may be running it, and update its row
            try:
                with self.odoo.env() as env:
                    env.cr.execute("SET LOCAL lock_timeout = '120s'")
                    cron = env["ir.cron"].browse(self.fixtures["dispatch_cron_id"])
                    if clear_triggers:  # left by section 4 (the cron is inactive meanwhile)
                        env.cr.execute("DELETE FROM ir_cron_trigger WHERE cron_id = %s", [cron.id])
                    if postpone is True:
                        self.fixtures.setdefault("dispatch_nextcall", cron.nextcall)
                        later = datetime.datetime.now() + datetime.timedelta(days=1)
                        cron.write({"nextcall": later})
                    elif postpone is False:
                        nextcall = self.fixtures.get("dispatch_nextcall") or cron.nextcall
                        cron.write({"nextcall": nextcall})
                    if active is not None:
                        cron.write({"active": active})
                return
            except psycopg2.errors.SerializationFailure:
                if attempt == 9:
                    raise
                time.sleep(0.2)

    def lock_dispatch_cron(self):
        """Take the dispatch cron's row lock (waits while the cron runs)."""
        cr = self.odoo.registry.cursor()
        try:
            # READ COMMITTED: the cron worker may have updated the row (lastcall...) meanwhile;
            # in Odoo's default REPEATABLE READ, locking it would then fail to serialize
            cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            cr.execute("SET LOCAL lock_timeout = '120s'")
            cr.execute(
                "SELECT id FROM ir_cron WHERE id = %s FOR NO KEY UPDATE",
                [self.fixtures["dispatch_cron_id"]],
            )
        except Exception:
            cr.close()
            raise
        self.lock_cr = cr

    def unlock_dispatch_cron(self):
        if self.lock_cr is not None:
            with contextlib.suppress(Exception):
                self.lock_cr.rollback()
                self.lock_cr.close()
            self.lock_cr = None

    def set_webhooks(self, state):
        with self.odoo.env() as env:
            env["api.sync.webhook"].browse(self.fixtures["webhook_ids"]).write({"state": state})
            env.registry.clear_cache()  # _tracked_models is an ormcache

    def clear_outbox(self, model):
        with self.odoo.env() as env:
            env.cr.execute("DELETE FROM api_sync_event WHERE model = %s", [model])  # cascades

    def create_product_webhooks(self, receiver_url):
        with self.odoo.env() as env:
            webhooks = (
                env["api.sync.webhook"]
                .sudo()
                .create(
                    [
                        {
                            "user_id": self.fixtures["admin_id"],
                            "url": f"{receiver_url}/hook/{i}",
                            "events": ["record.updated"],
                            "model_name": "product.product",
                            "state": "paused",
                            "secret": webhook_secret(),
                        }
                        for i in range(self.n["webhooks"])
                    ]
                )
            )
            env.registry.clear_cache()
            self.fixtures["webhook_ids"] = webhooks.ids

    # -- 4. outbox overhead ----------------------------------------------------------------------
    def bench_outbox(self):
        total, block = self.n["outbox_n"], self.n["outbox_block"]
        product_ids = self.fixtures["product_ids"][:block]
        samples = {"none": [], "subs": []}
        blocks = total // block
        # blocks alternate none/subs; one warm-up block of each first
        for index in range(2 * (blocks + 1)):
            scenario = ("none", "subs")[index % 2]
            self.set_webhooks("active" if scenario == "subs" else "paused")
            times = []
            self.lock_dispatch_cron()
            with self.odoo.env() as env:
                Webhook = env["api.sync.webhook"]
                if hasattr(Webhook, "_tracked_models"):
                    tracked = "product.product" in Webhook._tracked_models()
                    if tracked != (scenario == "subs"):
                        raise BenchError(f"product.product tracked={tracked} in case {scenario}")
                products = env["product.product"].browse(product_ids)
                for i, product in enumerate(products):
                    started = time.perf_counter()
                    product.write({"default_code": f"OB{index}-{i}"})
                    env.cr.commit()
                    times.append(time.perf_counter() - started)
                env.cr.execute(
                    "SELECT count(*) FROM api_sync_delivery d"
                    " JOIN api_sync_event e ON e.id = d.event_id"
                    " WHERE e.model = 'product.product'"
                )
                queued = env.cr.fetchone()[0]
            self.clear_outbox("product.product")
            self.unlock_dispatch_cron()
            expected = len(product_ids) * self.n["webhooks"] if scenario == "subs" else 0
            if queued != expected:
                raise BenchError(
                    f"outbox: {queued} deliveries queued in a {scenario} block, expected {expected}"
                )
            if index >= 2:
                samples[scenario].extend(times)
        return {"n": len(samples["none"]), "webhooks": self.n["webhooks"], "samples": samples}

    # -- 5a. dispatch throughput -----------------------------------------------------------------
    def queue_product_updates(self, count, tag):
        """Update ``count`` products in one transaction; returns the pending deliveries."""
        with self.odoo.env() as env:
            products = env["product.product"].browse(self.fixtures["product_ids"][:count])
            for i, product in enumerate(products):
                product.write({"default_code": f"{tag}-{i}"})
            env.flush_all()
            env.cr.commit()
            env.cr.execute("SELECT count(*) FROM api_sync_delivery WHERE state = 'pending'")
            return env.cr.fetchone()[0]

    def receiver(self, method, path, **params):
        url = f"http://127.0.0.1:{self.procs.receiver_port}{path}"
        return requests.request(method, url, params=params, timeout=130).json()

    def engine_settings(self):
        """Senders and per-sink cap of the engine scenarios (settings, see the report)."""
        with self.odoo.env() as env:
            ICP = env["ir.config_parameter"]
            for key, value in ENGINE_SETTINGS.items():
                ICP.set_param(key, value)

    def bench_latency_busy(self, receiver_url):
        """Commit -> receipt through the server's cron while it dispatches a backlog of
        product updates to 20 ms receivers."""
        hooks = self.n["webhooks"]
        engine = EngineScenarios(self)
        engine.configure([f"{receiver_url}/delay/20/hook/{i}" for i in range(hooks)])
        self.queue_product_updates(self.n["dispatch_n"] // hooks, "B0")
        backlog = self.queue_product_updates(self.n["dispatch_n"] // hooks, "B1")
        try:
            result = self.bench_latency(receiver_url)
            with self.odoo.env() as env:
                env.cr.execute("SELECT count(*) FROM api_sync_delivery WHERE state = 'done'")
                result["backlog_done"] = env.cr.fetchone()[0]
        finally:
            engine.configure([None] * hooks)
            self.clear_outbox("product.product")
        result["backlog"] = backlog
        return result

    # -- 5b. commit-to-receipt latency through the server's cron ---------------------------------
    def bench_latency(self, receiver_url):
        n, warm = self.n["latency_n"], self.n["latency_warm"]
        c = self.client
        _t, response = c.call(
            "POST",
            f"{API}/webhooks",
            token=self.jwt,
            expect=(201,),
            body={
                "url": f"{receiver_url}/partner",
                "events": ["record.updated"],
                "model": "res.partner",
                "fields": ["name", "city"],
            },
        )
        webhook_id = response.json()["webhook_id"]
        _t, response = c.call(
            "POST",
            f"{API}/res.partner",
            token=self.jwt,
            expect=(201,),
            body={"data": partner_vals("latency", 0)},
        )
        partner_id = response.json()["id"]
        run = secrets.token_hex(3)
        from_commit, from_send, late = [], [], 0
        for i in range(warm + n):
            # one isolated commit at a time: the previous delivery's cron run is over
            time.sleep(LATENCY_SPACING)
            marker = f"lat-{run}-{i}"
            sent = time.time()
            c.call(
                "PUT",
                f"{API}/res.partner/{partner_id}",
                token=self.jwt,
                body={"data": {"city": marker}},
            )
            committed = time.time()  # the server commits before it answers
            found = self.receiver(
                "GET", "/_bench/wait", field="city", value=marker, timeout=LATENCY_TIMEOUT
            )
            if not found.get("found"):
                late += 1
                log(f"  delivery of sample {i} not received within {LATENCY_TIMEOUT} s")
                if late >= 5:
                    break
                continue
            if i >= warm:
                from_commit.append(max(found["t"] - committed, 0.0))
                from_send.append(found["t"] - sent)
        c.call("DELETE", f"{API}/webhooks/{webhook_id}", token=self.jwt)
        if not from_commit:
            raise BenchError(f"no webhook delivery arrived within {LATENCY_TIMEOUT} s")
        return {
            "n": len(from_commit),
            "late": late,
            "from_commit": from_commit,
            "from_send": from_send,
        }

    # -- run ---------------------------------------------------------------------------------------
    def section(self, name, func, *args):
        if self.args.only and name not in self.args.only.split(","):
            return
        log(f"section {name} ...")
        started = time.perf_counter()
        try:
            self.results[name] = func(*args)
        except Exception as exc:  # noqa: BLE001 -- reported in the table, the run goes on
            traceback.print_exc()
            self.results[name] = {"error": f"{exc.__class__.__name__}: {exc}"[:500]}
        log(f"section {name} done in {time.perf_counter() - started:.0f} s")

    def run(self):
        began = time.perf_counter()
        log("loading the registry in-process ...")
        self.odoo = InProcess(self.args, self.odoo_args)
        self.setup_database()
        try:
            receiver_port = self.procs.start_receiver()
            receiver_url = f"http://127.0.0.1:{receiver_port}"
            log(f"receiver on {receiver_url}")
            port = self.procs.start_server()
            self.client = Client(f"http://127.0.0.1:{port}", self.args.db)
            self.login()
            self.warm_up_workers()
            self.section("auth", self.bench_auth)
            self.section("batch", self.bench_batch)
            self.section("single", self.bench_single)
            self.create_product_webhooks(receiver_url)
            self.dispatch_cron(postpone=True)
            try:
                self.section("outbox", self.bench_outbox)
                self.dispatch_cron(active=False)
                self.engine_settings()
                engine = EngineScenarios(self)
                self.section("throughput_20", engine.throughput, 20)
                self.section("throughput_200", engine.throughput, 200)
                self.section("hanging", engine.hanging)
            finally:
                self.unlock_dispatch_cron()
                self.dispatch_cron(postpone=False, active=True, clear_triggers=True)
            self.section("latency", self.bench_latency, receiver_url)
            self.section("latency_busy", self.bench_latency_busy, receiver_url)
        finally:
            self.unlock_dispatch_cron()
            self.procs.stop_all()
        self.elapsed = time.perf_counter() - began
        report = self.report()
        print(report)
        os.makedirs(self.args.results, exist_ok=True)
        path = os.path.join(self.args.results, "latest.txt")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(report + "\n")
        print(f"(written to {path})")
        return 1 if any("error" in r for r in self.results.values()) else 0

    # -- report ------------------------------------------------------------------------------------
    def report(self):
        import odoo.release  # noqa: PLC0415

        lines = []
        add = lines.append
        n = self.n

        def row(label, *cells, width=40, cell=12):
            add("   " + f"{label:<{width}}" + "".join(f"{c:>{cell}}" for c in cells))

        def err(name):
            result = self.results.get(name, {"error": "not run"})
            if "error" in result:
                add(f"   NOT MEASURED: {result['error']}")
                return None
            return result

        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        load = f"{self.load_start[0]:.2f} at start, {os.getloadavg()[0]:.2f} at end"
        quick = "  (QUICK: small samples, figures unstable)" if self.args.quick else ""
        add("=" * 104)
        add(f"api_sync benchmark  {now}  Odoo {odoo.release.version}  db {self.args.db}{quick}")
        add(f"addon: {addon_revision()}")
        add(f"host {platform.node()}: {os.cpu_count()} CPUs; load average {load}")
        add(f"measurements took {self.elapsed:.0f} s (after the install of the database)")
        add("server: odoo --workers=2 --max-cron-threads=1 --log-level=warn, 127.0.0.1, no proxy")
        add("HTTP figures: sequential requests on one keep-alive requests.Session (Odoo's prefork")
        add("workers close the connection after each answer), after warm-up; the variants of a")
        add("figure are interleaved request by request. ratio = api_sync / reference")
        add("Tokens: api_sync 'JWT' = access token of POST /auth/login as admin; 'API key' = an")
        add("Odoo API key of admin (res.users.apikeys), also used for every /json/2 call.")
        for note in self.notes:
            add(f"Note: {note}")
        add("=" * 104)

        add("")
        add("1. Authentication cost (issue 2): GET /api/sync/v1/auth/verify vs Odoo's own")
        add("   POST /json/2/res.users/context_get")
        r = err("auth")
        if r:
            s = {key: median(values) for key, values in r["samples"].items()}
            row(f"{r['n']} requests each", "median ms", "p90 ms", "vs json/2")
            for key, label in (
                ("verify_jwt", "api_sync /auth/verify, JWT"),
                ("verify_key", "api_sync /auth/verify, API key"),
                ("json2", "json/2 context_get, API key"),
                ("ping", "api_sync /ping (no auth, reference)"),
            ):
                row(label, ms(s[key]), ms(p90(r["samples"][key])), ratio(s[key], s["json2"]))
            jwt_cost = ms(s["verify_jwt"] - s["ping"])
            key_cost = ms(s["verify_key"] - s["ping"])
            add(
                f"   authentication alone (verify - ping): JWT {jwt_cost} ms, API key {key_cost} ms"
            )

        add("")
        add(
            f"2. Batch create of {n['batch_size']} res.partner (issue 3): name, email, phone, city;"
        )
        add("   median of runs, one transaction each")
        r = err("batch")
        if r:
            s, size = r["samples"], r["size"]
            orm, batch, json2 = (median(s[k]) for k in ("orm", "batch", "json2"))
            row(f"{r['runs']} runs (+1 warm-up)", "total ms", "per rec. us", "vs ORM", "vs json/2")
            for label, value in (
                ("in-process ORM create+flush+commit", orm),
                ("api_sync POST /batch (transaction, JWT)", batch),
                ("json/2 res.partner/create (API key)", json2),
            ):
                per_record = f"{value / size * 1e6:.0f}"
                row(label, ms(value), per_record, ratio(value, orm), ratio(value, json2))
            add(f"   target: api_sync batch <= 1.20x the ORM per record -> {ratio(batch, orm)}")

        add("")
        add("3. Single operations on res.partner (issue 3)")
        r = err("single")
        if r:
            head = ("api_sync JWT", "api_sync key", "json/2 key", "JWT/json2", "key/json2")
            row(f"{r['n']} requests each, median ms", *head, width=30, cell=13)
            for op, label in (
                ("create", "create (1 record)"),
                ("read", "read one (name,email)"),
                ("update", "update (PUT, city)"),
                ("search", "search 50 (name,email)"),
            ):
                s = r["ops"][op]
                jwt, key, ref = median(s["jwt"]), median(s["key"]), median(s["json2"])
                cells = (ms(jwt), ms(key), ms(ref), ratio(jwt, ref), ratio(key, ref))
                row(label, *cells, width=30, cell=13)
            add("   json/2 calls: create {vals_list: [1 record]}, read {ids, fields},")
            add("   write {ids, vals}, search_read {domain: [], fields, limit: 50}.")
            add("   target: no slower than json/2 (<= 1.00x)")

        add("")
        add("4. Outbox overhead on Odoo's write path (issue 4): in-process")
        add("   product.product.write({'default_code': ...}) + commit, one transaction per write")
        r = err("outbox")
        if r:
            s = r["samples"]
            med = {key: median(values) for key, values in s.items()}
            mean = {key: statistics.fmean(values) for key, values in s.items()}
            hooks = f"{r['webhooks']} active subscriptions (record.updated)"
            row(f"{r['n']} writes each", "median ms", "mean ms", "p90 ms", width=44)
            for key, label in (("none", "no subscription"), ("subs", hooks)):
                row(label, ms(med[key]), ms(mean[key]), ms(p90(s[key])), width=44)
            by_median = ratio(med["subs"], med["none"])
            by_mean = ratio(mean["subs"], mean["none"])
            add(f"   ratio with/without: {by_median} (medians), {by_mean} (means); target <= 1.15x")
            add(f"   (blocks of {n['outbox_block']} writes alternate between the two cases; the")
            add("   server's dispatch cron is kept from running meanwhile: the outbox is written,")
            add("   cron trigger included, nothing is sent)")

        add("")
        add("5. Webhook dispatch to a local receiver on 127.0.0.1 (issue 4)")
        for name in ("throughput_20", "throughput_200"):
            r = err(name)
            if r:
                add(
                    f"   a. throughput, receiver answering in {r['latency_ms']} ms: {r['queued']}"
                    f" queued ({n['webhooks']} subscriptions), {r['received']} received in"
                )
                add(
                    f"      {r['elapsed']:.1f} s: {r['rate']:.0f} deliveries/s"
                    f" (first->last receipt: {r['span_rate'] or 0:.0f}/s), {r['duplicates']}"
                    f" duplicates, dispatcher errors {r['errors']}"
                )
        add(
            f"      ({DISPATCHERS} in-process dispatcher runs, settings {ENGINE_SETTINGS};"
            " targets >= 200/s at 20 ms, >= 100/s at 200 ms)"
        )
        r = err("hanging")
        if r:
            add("   c. healthy sink (20 ms) while another hangs (answers after 15 s > timeout):")
            add(
                f"      {r['n']} deliveries, commit -> receipt p50 {ms(r['p50'])} ms,"
                f" p99 {ms(r['p99'])} ms, max {ms(r['max'])} ms (target p99 < 5000 ms);"
                f" missing {r['missing']}, errors {r['errors']}"
            )
        r = err("latency")
        if r:
            lat = r["from_commit"]
            worst = ms(max(lat)) if lat else "n/a"
            add("   b. commit -> receipt through the running server's cron (triggered at commit):")
            add("      PUT /res.partner/{id} with a res.partner subscription (POST /webhooks),")
            add(f"      {r['n']} samples, one at a time, {LATENCY_SPACING} s apart")
            add(f"      median {ms(median(lat))} ms, p90 {ms(p90(lat))} ms, max {worst} ms")
            add("      (target < 2000 ms)")
            add(f"      from the request being sent: median {ms(median(r['from_send']))} ms;")
            add(f"      deliveries not received within {LATENCY_TIMEOUT} s (left out): {r['late']}")
        r = err("latency_busy")
        if r:
            lat = r["from_commit"]
            add(
                f"   d. the same while the cron dispatches a backlog of {r['backlog']} deliveries"
                f" to 20 ms receivers ({r['backlog_done']} done by the end):"
            )
            add(
                f"      median {ms(median(lat))} ms, p90 {ms(p90(lat))} ms, p99"
                f" {ms(percentile(lat, 0.99))} ms, max {ms(max(lat))} ms; late {r['late']}"
            )
        add("=" * 104)
        return "\n".join(lines)


def main():
    argv = sys.argv[1:]
    odoo_args = []
    if "--" in argv:
        split = argv.index("--")
        argv, odoo_args = argv[:split], argv[split + 1 :]
    parser = argparse.ArgumentParser(
        description="api_sync benchmark (normally run by bench/run.sh / make bench)",
        epilog="Arguments after -- go to Odoo (database connection: --db_host ... --db_user ...).",
    )
    parser.add_argument("--db", default="api_sync_bench", help="database with api_sync installed")
    parser.add_argument("--addons-path", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--results", default=os.path.join(HERE, "results"))
    parser.add_argument("--port-start", type=int, default=18869, help="first port tried for Odoo")
    parser.add_argument(
        "--quick",
        action="store_true",
        default=os.environ.get("BENCH_QUICK") == "1",
        help="small samples: a smoke run of the script",
    )
    parser.add_argument(
        "--only", default=os.environ.get("BENCH_ONLY"), help="comma-separated sections to run"
    )
    args = parser.parse_args(argv)
    os.makedirs(args.results, exist_ok=True)
    bench = Bench(args, odoo_args)
    try:
        return bench.run()
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
