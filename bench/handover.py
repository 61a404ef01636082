#!/usr/bin/env python3
"""Bench of a backlog longer than one dispatcher run (issue #8), through a prefork server's cron.

Runs against a database with api_sync installed (``bench/handover.sh`` makes one): 5 webhooks on
``product.product`` pointing at the bench receiver (answering in ``--delay`` ms), then one
commit that updates ``--products`` products (5 deliveries each). A real server
(``--workers=2 --max-cron-threads=1``, Odoo's default real-time limit unless ``--limit``) sends
them through its cron worker alone. Prints the time to receive them all, the deliveries sent
again, the cron worker's kills by Odoo's watchdog and the dispatcher's runs with the gaps
between them (from the server's log). A figure is printed, never judged; the exit status is 1
only when the run failed.
"""

# pylint: disable=print-used,invalid-commit  (a command-line program: it prints its figures and
# commits what it creates in the bench database)
import argparse
import datetime
import itertools
import os
import re
import signal
import subprocess
import sys
import time

import requests
from harness import free_port

HERE = os.path.dirname(os.path.abspath(__file__))
LOG_TIME = r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})"
JOB = r"Job 'API Sync: dispatch deliveries' \(\d+\)"


def parse():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--addons-path", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--results", required=True)
    parser.add_argument("--products", type=int, default=2400)
    parser.add_argument("--delay", type=int, default=200, help="the receiver's answer, in ms")
    parser.add_argument("--limit", type=int, default=120, help="--limit-time-real, in s")
    parser.add_argument("--timeout", type=int, default=600)
    parser.add_argument("odoo_args", nargs="*")
    return parser.parse_args()


def start(cmd, log_path=None):
    out = open(log_path, "w") if log_path else subprocess.PIPE  # noqa: SIM115
    return subprocess.Popen(
        cmd, stdout=out, stderr=subprocess.STDOUT if log_path else None, text=True,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


def stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def setup(env, receiver, args):
    """5 webhooks on product.product, and the products (created before the webhooks)."""
    from odoo import SUPERUSER_ID  # noqa: PLC0415

    from odoo.addons.api_sync.tools import signing  # noqa: PLC0415

    params = {
        "api_sync.webhook_allow_http": "True",
        "api_sync.webhook_allow_private_networks": "True",
        "api_sync.dispatch_senders": "16",
        "api_sync.sink_concurrency": "8",
    }
    for key, value in params.items():
        env["ir.config_parameter"].set_param(key, value)
    dispatch = env.ref("api_sync.ir_cron_dispatch")
    env["ir.cron"].search([("id", "!=", dispatch.id)]).write({"active": False})  # quiet log
    products = env["product.product"].create(
        [{"name": f"handover {n}"} for n in range(args.products)]
    )
    for n in range(5):
        env["api.sync.webhook"].create({
            "url": f"{receiver}/delay/{args.delay}/hook/{n}", "model_name": "product.product",
            "events": ["record.updated"], "field_names": ["default_code"],
            "user_id": SUPERUSER_ID, "secret": signing.new_secret(),
        })  # fmt: skip
    env.cr.commit()
    env.registry.clear_cache()
    return products


def job_runs(log_path):
    """[(start, end)] of the dispatch job's runs, and the cron worker's kills, from the log."""
    runs, kills, started = [], 0, None
    with open(log_path) as log:
        for line in log:
            stamp = re.match(LOG_TIME, line)
            at = stamp and datetime.datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S,%f")
            if re.search(JOB + " starting", line):
                started = at
            elif re.search(JOB + " (fully done|partially done|failed)", line) and started:
                runs.append((started, at))
                started = None
            elif re.search(r"WorkerCron \(\d+\) timeout after", line):
                kills += 1
                started = None
    return runs, kills


def main():
    args = parse()
    import odoo  # noqa: PLC0415
    from odoo.modules.registry import Registry  # noqa: PLC0415

    odoo.tools.config.parse_config(
        ["-d", args.db, f"--addons-path={args.addons_path}", f"--data-dir={args.data_dir}",
         *args.odoo_args, "--log-level=warn"]
    )  # fmt: skip
    receiver = start([sys.executable, os.path.join(HERE, "receiver.py"), "--port", "0"])
    receiver_url = f"http://127.0.0.1:{int(receiver.stdout.readline().split()[1])}"
    log_path = os.path.join(args.results, "handover_server.log")
    server = None
    try:
        with Registry(args.db).cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {"tracking_disable": True})
            products = setup(env, receiver_url, args)
            port = free_port(18969)
            server = start(
                [sys.executable, os.path.join(HERE, "odoo_server.py"),
                 f"--addons-path={args.addons_path}", f"--data-dir={args.data_dir}",
                 *args.odoo_args, "-d", args.db, f"--db-filter=^{args.db}$",
                 "--no-database-list", "--http-interface=127.0.0.1", f"--http-port={port}",
                 f"--gevent-port={free_port(port + 1, exclude={port})}", "--workers=2",
                 "--max-cron-threads=1", f"--limit-time-real={args.limit}",
                 "--limit-time-cpu=600", "--log-level=info"],
                log_path,
            )  # fmt: skip
            ping = f"http://127.0.0.1:{port}/api/sync/v1/ping"
            deadline = time.monotonic() + 180
            while not _answers(ping):
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"the server did not start (see {log_path})")
                time.sleep(0.5)
            for n, product in enumerate(products):
                product.default_code = f"HANDOVER-{n}"
            committed = time.time()
            cr.commit()  # the backlog, and the trigger that wakes the cron worker
        queued = 5 * args.products
        stats = requests.get(f"{receiver_url}/_bench/stats", timeout=10).json()
        while stats["distinct"] < queued and time.time() - committed < args.timeout:
            time.sleep(0.5)
            stats = requests.get(f"{receiver_url}/_bench/stats", timeout=10).json()
        elapsed = time.time() - committed
    finally:
        if server is not None:
            stop(server)
        stop(receiver)
    runs, kills = job_runs(log_path)
    gaps = [(b[0] - a[1]).total_seconds() * 1000 for a, b in itertools.pairwise(runs)]
    print(
        f"backlog of {queued} deliveries ({args.products} products x 5 webhooks, receiver"
        f" answering in {args.delay} ms), limit_time_real {args.limit} s, 1 prefork cron worker:"
    )
    print(
        f"  received {stats['distinct']} in {elapsed:.1f} s ({stats['distinct'] / elapsed:.0f}/s);"
        f" sent again: {stats['duplicates']}; cron worker killed by the watchdog: {kills}"
    )
    durations = ", ".join(f"{(end - begin).total_seconds():.1f}" for begin, end in runs)
    print(f"  dispatcher runs: {len(runs)} ({durations} s)")
    if gaps:
        print(f"  from one run's end to the next one's start: max {max(gaps):.0f} ms")
    return 0 if stats["distinct"] == queued else 1


def _answers(url):
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False


if __name__ == "__main__":
    sys.exit(main())
