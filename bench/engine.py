"""Scenarios of the delivery engine (issue #8), run by ``bench/run.py``.

In-process dispatchers (``api.sync.dispatcher._run``, as the cron runs it: a pool of sender
threads, each with its own connection) against ``bench/receiver.py``, whose ``/delay/<ms>/``
paths answer after a delay and ``/hang/`` after 15 s (past the 10 s timeout):

- throughput to a receiver answering in 20 ms and in 200 ms;
- the healthy sink's commit -> receipt while another sink hangs.

The commit -> receipt latency through the server's cron (idle, and busy with a backlog) is
measured by ``Bench.bench_latency``.
"""

# pylint: disable=print-used
import itertools
import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from harness import ENGINE_SETTINGS

DISPATCHERS = 2  # in-process dispatcher runs at once (like two cron threads)


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * fraction), len(ordered) - 1)] if ordered else None


class EngineScenarios:
    def __init__(self, bench):
        self.bench = bench

    def configure(self, urls, field_names=None):
        """Point the bench's webhooks at ``urls`` (one per webhook, None: paused)."""
        bench = self.bench
        with bench.odoo.env() as env:
            for webhook_id, url in zip(bench.fixtures["webhook_ids"], urls, strict=True):
                webhook = env["api.sync.webhook"].browse(webhook_id)
                values = {"state": "active" if url else "paused"}
                if url:
                    values["url"] = url
                if field_names is not None:
                    values["field_names"] = field_names
                webhook.write(values)
            env.registry.clear_cache()

    def run_dispatchers(self, until, timeout):
        """``DISPATCHERS`` threads running ``_run`` again and again until ``until()``."""
        bench, errors, attempted = self.bench, [], []
        deadline = time.monotonic() + timeout

        def loop():
            idle = threading.Event()
            try:
                while not until() and time.monotonic() < deadline:
                    with bench.odoo.env() as env:
                        done = env["api.sync.dispatcher"]._run(time.time() + 30)
                    attempted.append(done)
                    if not done:
                        idle.wait(0.02)
            except Exception as exc:  # noqa: BLE001 -- reported
                errors.append(repr(exc))

        threads = [threading.Thread(target=loop, daemon=True) for _n in range(DISPATCHERS)]
        for thread in threads:
            thread.start()
        return threads, errors, attempted

    def throughput(self, latency_ms):
        bench = self.bench
        n, hooks = bench.n["dispatch_n"], bench.n["webhooks"]
        base = f"http://127.0.0.1:{bench.procs.receiver_port}/delay/{latency_ms}"
        self.configure([f"{base}/hook/{i}" for i in range(hooks)])
        bench.clear_outbox("product.product")
        bench.receiver("POST", "/_bench/reset")
        queued = bench.queue_product_updates(n // hooks, f"T{latency_ms}")
        started = time.perf_counter()

        def delivered():
            return bench.receiver("GET", "/_bench/stats")["count"] >= queued

        threads, errors, _attempted = self.run_dispatchers(delivered, 300)
        for thread in threads:
            thread.join(320)
        elapsed = time.perf_counter() - started
        stats = bench.receiver("GET", "/_bench/stats")
        span = (stats["last"] - stats["first"]) if stats["count"] > 1 else None
        self.configure([None] * hooks)
        bench.clear_outbox("product.product")
        ceiling = self.receiver_ceiling(f"{base}/ceiling", min(queued, 1000))
        return {
            "ceiling": ceiling,
            "latency_ms": latency_ms,
            "queued": queued,
            "received": stats["count"],
            "duplicates": stats["duplicates"],
            "elapsed": elapsed,
            "rate": stats["count"] / elapsed if elapsed else None,
            "span_rate": stats["count"] / span if span else None,
            "errors": errors,
        }

    def receiver_ceiling(self, url, n):
        """Deliveries per second a plain ``requests`` pool gets from the receiver: as many
        requests in flight as the dispatchers may have (``DISPATCHERS`` x senders, capped by
        the sinks' concurrency), bodies of a delivery's size, no database work."""
        settings = ENGINE_SETTINGS
        in_flight = min(
            DISPATCHERS * settings["api_sync.dispatch_senders"],
            self.bench.n["webhooks"] * settings["api_sync.sink_concurrency"],
        )
        body = json.dumps({"id": "x" * 36, "type": "record.updated", "data": {"f": "y" * 900}})
        sent = itertools.count()

        def post_until_done():
            with requests.Session() as session:
                while next(sent) < n:
                    session.post(
                        url, data=body, headers={"Content-Type": "application/json"}, timeout=30
                    ).raise_for_status()

        started = time.perf_counter()
        with ThreadPoolExecutor(in_flight) as pool:
            for future in [pool.submit(post_until_done) for _i in range(in_flight)]:
                future.result()
        rate = n / (time.perf_counter() - started)
        self.bench.receiver("POST", "/_bench/reset")
        return {"rate": rate, "in_flight": in_flight}

    def hanging(self, waves=10, per_wave=20):
        """Sink 0 hangs, sink 1 answers in 20 ms; both get every product update, committed in
        waves; the healthy sink's commit -> receipt is measured per delivery."""
        bench = self.bench
        port = bench.procs.receiver_port
        hooks = bench.n["webhooks"]
        urls = [f"http://127.0.0.1:{port}/hang/0", f"http://127.0.0.1:{port}/delay/20/hook/1"]
        self.configure(urls + [None] * (hooks - 2), field_names=["default_code"])
        bench.clear_outbox("product.product")
        bench.receiver("POST", "/_bench/reset")
        stop = threading.Event()
        threads, errors, _attempted = self.run_dispatchers(stop.is_set, 600)
        commits = {}
        try:
            for wave in range(waves):
                tag = f"H{wave}"
                bench.queue_product_updates(per_wave, tag)
                committed = time.time()
                for i in range(per_wave):
                    commits[f"{tag}-{i}"] = committed
                time.sleep(0.5)  # the bench's own pace: waves of commits, half a second apart
            gaps, missing = [], 0
            for marker, committed in commits.items():
                found = bench.receiver(
                    "GET", "/_bench/wait", field="default_code", value=marker, timeout=30
                )
                if found.get("found"):
                    gaps.append(found["t"] - committed)
                else:
                    missing += 1
        finally:
            stop.set()
            for thread in threads:
                thread.join(60)
        self.configure([None] * hooks, field_names=False)
        bench.clear_outbox("product.product")
        return {
            "n": len(gaps),
            "missing": missing,
            "p50": statistics.median(gaps) if gaps else None,
            "p99": percentile(gaps, 0.99),
            "max": max(gaps) if gaps else None,
            "errors": errors,
        }
