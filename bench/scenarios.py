"""Scenarios of the api_sync benchmark (issues 2, 3, 4 and 8): the ``Bench`` driver."""

# pylint: disable=print-used
import contextlib
import datetime
import os
import secrets
import time
import traceback

import requests
from engine import EngineScenarios
from harness import (
    API,
    ENGINE_SETTINGS,
    LATENCY_SPACING,
    LATENCY_TIMEOUT,
    SIZES,
    BenchError,
    Client,
    InProcess,
    Processes,
    interleaved,
    log,
    median,
    ms,
    partner_vals,
    webhook_secret,
)
from report import report


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
        """Delete the events of ``model`` and their deliveries, while the server's cron may
        still be recording outcomes: at READ COMMITTED, the delete waits for the rows being
        written instead of failing on them."""
        with self.odoo.env() as env:
            env.cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
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
        cron_workers = self.procs.cron_workers()
        if not from_commit:
            raise BenchError(f"no webhook delivery arrived within {LATENCY_TIMEOUT} s")
        return {
            "n": len(from_commit),
            "late": late,
            "from_commit": from_commit,
            "from_send": from_send,
            "cron_workers": cron_workers,
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

    def report(self):
        return report(self)
