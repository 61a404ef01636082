#!/usr/bin/env python3
"""Bench of the HQ connector (issue #10): paid POS orders pushed to the HQ double.

Runs Odoo in-process against a database with api_sync installed (``bench/hq.sh`` makes one, or
pass ``--db`` and the database arguments after ``--``): a POS with products of mixed taxes, an
HQ backend pointing at the HQ double (tests/hq_double.py, in a process of its own as a real HQ
is remote) with short-lived access tokens; the products are pushed first, then ``--orders``
paid orders (2-6 lines) are created through ``pos.order.sync_from_ui`` and the dispatcher
pushes them. Prints orders per second, the logins and token refreshes HQ saw, and checks that
HQ holds each receipt once with Odoo's total. Then the double's own ceiling: the same sales
(other receipt numbers) posted straight to it by plain ``requests`` threads, as many as the
backend sends at once. A figure is printed, never judged; the exit status is 1 only when the
run failed.
"""

# pylint: disable=print-used,invalid-commit  (a command-line program: it prints its figures and
# commits what it creates, as a POS and the dispatcher's cron would)
import argparse
import cProfile
import os
import pstats
import random
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
DOUBLE = os.path.join(HERE, "..", "tests", "hq_double.py")


def parse():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--addons-path", required=True)
    parser.add_argument("--data-dir")
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument(
        "--access-ttl",
        type=int,
        default=5,
        help="HQ access token lifetime, seconds (a refresh per expiry)",
    )
    parser.add_argument("--results", default=os.path.join(HERE, "results"))
    parser.add_argument(
        "--profile", help="write a cProfile of the push (every thread, merged) to this file"
    )
    parser.add_argument("odoo_args", nargs="*", help="database arguments for Odoo (after --)")
    return parser.parse_args()


def main():
    args = parse()
    import odoo  # noqa: PLC0415 - on PYTHONPATH only when run by bench/hq.sh
    from odoo.tools import config  # noqa: PLC0415

    config.parse_config(
        [
            f"--addons-path={args.addons_path}",
            *([f"--data-dir={args.data_dir}"] if args.data_dir else []),
            *args.odoo_args,
            "-d",
            args.db,
            "--http-interface=127.0.0.1",
            "--log-level=warn",
        ],
        setup_logging=True,
    )
    from odoo import api  # noqa: PLC0415
    from odoo.modules.registry import Registry  # noqa: PLC0415

    registry = Registry(args.db)
    from odoo.addons.api_sync.tests.pos_common import PosFixtures  # noqa: PLC0415
    from odoo.addons.api_sync.tools.sale_document import to_cents  # noqa: PLC0415

    double = subprocess.Popen(
        [sys.executable, DOUBLE, "--port", "0", "--access-ttl", str(args.access_ttl)],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    rng = random.Random(10)
    try:
        line = double.stdout.readline().strip()
        if not line.startswith("PORT "):
            raise SystemExit(f"the HQ double did not start (said {line!r})")
        url = f"http://127.0.0.1:{line.split()[1]}"
        with registry.cursor() as cr:
            env = api.Environment(cr, odoo.SUPERUSER_ID, {})
            env = env(user=env.ref("base.user_admin"))
            fixture = type("BenchPos", (PosFixtures,), {"env": env})
            fixture.setup_pos()
            taxes = [[fixture.tax_825], [fixture.tax_825, fixture.tax_5], [fixture.tax_10_incl], []]
            products = [
                fixture.make_product(
                    f"Bench {n}",
                    round(rng.uniform(0.5, 40), 2),
                    taxes[n % len(taxes)],
                    barcode=f"99{n:06d}",
                    default_code=f"BENCH-{n}",
                )
                for n in range(40)
            ]
            backend = env["api.sync.hq.backend"].create(
                {
                    "name": "HQ bench",
                    "base_url": url,
                    "username": "manager",
                    "pin": "1234",
                    "store_id": state(url)["store"]["id"],
                    "pos_config_ids": [(6, 0, fixture.pos_config.ids)],
                }
            )
            backend.action_push_all_products()
            cr.commit()
            dispatch(env)
            print(f"products pushed: {state(url)['products']}", flush=True)
            pos = fixture()
            started = time.perf_counter()
            orders = []
            for n in range(args.orders):
                lines = [
                    (rng.choice(products), rng.choice((1, 2, 3, 0.5, 1.25)))
                    for _ in range(rng.randint(2, 6))
                ]
                orders.append(pos.pay_order(lines))
                if n % 50 == 49:
                    cr.commit()
            cr.commit()
            created = time.perf_counter() - started
            before = state(url)
            print(f"{args.orders} orders created in {created:.1f} s; pushing", flush=True)
            started = time.perf_counter()
            if args.profile:
                profiled(dispatch, env, args.profile)
            else:
                dispatch(env)
            elapsed = time.perf_counter() - started
            after = state(url)
            by_receipt = {}
            for sale in after["sales"]:
                by_receipt.setdefault(sale["receiptNumber"], []).append(sale)
            wrong = [
                o.pos_reference
                for o in orders
                if len(by_receipt.get(o.pos_reference, ())) != 1
                or by_receipt[o.pos_reference][0]["grandTotal"] != to_cents(o.amount_total)
            ]
            dead = env["api.sync.delivery"].search_count(
                [("sink_model", "=", backend._name), ("state", "!=", "done")]
            )
            concurrency = backend._sink_concurrency()
            ceiling = double_ceiling(url, after["sales"], concurrency)
            rate = args.orders / elapsed
            report = [
                f"HQ bench: {args.orders} paid POS orders (2-6 lines, mixed taxes) -> HQ double"
                " (a process of its own)",
                f"  orders created through sync_from_ui: {created:.1f} s",
                f"  pushed in {elapsed:.2f} s: {rate:.1f} orders/s (target >= 50/s),"
                f" {concurrency} at once",
                f"  logins: {after['logins']} ({after['logins'] - before['logins']} during the"
                f" orders; target 1), token refreshes: {after['refreshes']}"
                f" ({after['refreshes'] - before['refreshes']} during the orders; access token"
                f" lifetime {args.access_ttl} s)",
                f"  receipts missing, duplicated or off by a cent: {len(wrong)};"
                f" deliveries not done: {dead}",
                f"  the double's own ceiling: {ceiling:.1f} sales/s (the same sales posted by"
                f" {concurrency} plain requests threads); Odoo's push at"
                f" {rate / ceiling:.0%} of it",
            ]
            env["api.sync.hq.backend"].browse(backend.id).unlink()
            cr.commit()
    finally:
        double.terminate()
        double.wait(10)
    text = "\n".join(report)
    print(text)
    os.makedirs(args.results, exist_ok=True)
    with open(os.path.join(args.results, "hq.txt"), "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    return 1 if wrong else 0


def state(url):
    """The double's store, counters and sales (``GET /_double/state``)."""
    response = requests.get(f"{url}/_double/state", timeout=30)
    response.raise_for_status()
    return response.json()


def double_ceiling(url, sales, concurrency):
    """Sales per second the double takes from ``concurrency`` threads posting ``sales`` again
    (new receipt numbers), each with its own session, logging in again when the token expires."""
    stored = ("id", "status", "createdAt", "changeAmount")  # HQ's own fields of a sale
    bodies = [
        {
            **{k: v for k, v in sale.items() if k not in stored},
            "receiptNumber": f"ceiling {sale['receiptNumber']}",
        }
        for sale in sales
    ]
    local, lock, token, sessions = threading.local(), threading.Lock(), {}, []

    def login(stale):
        with lock:
            if token.get("access") == stale:
                answer = requests.post(
                    f"{url}/api/v1/auth/login",
                    json={"username": "manager", "pin": "1234"},
                    timeout=30,
                )
                token["access"] = answer.json()["data"]["accessToken"]
            return token["access"]

    def post(body):
        if not hasattr(local, "session"):
            local.session = requests.Session()
            sessions.append(local.session)
        access = token["access"]
        answer = local.session.post(
            f"{url}/api/v1/sales", json=body, headers={"Authorization": f"Bearer {access}"},
            timeout=30,
        )  # fmt: skip
        if answer.status_code == 401:  # the access token expired
            answer = local.session.post(
                f"{url}/api/v1/sales", json=body,
                headers={"Authorization": f"Bearer {login(access)}"}, timeout=30,
            )  # fmt: skip
        if answer.status_code != 201:
            raise RuntimeError(f"the double refused a sale: {answer.text[:200]}")

    login(None)
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(post, bodies))
    elapsed = time.perf_counter() - started
    for session in sessions:
        session.close()
    return len(bodies) / elapsed


def profiled(function, env, path):
    """Run ``function(env)`` under cProfile in this thread and every thread it starts; write
    their merged statistics to ``path``."""
    profiles = []

    def start(*_args):
        profile = cProfile.Profile()
        profiles.append(profile)
        profile.enable()  # replaces this hook in the new thread

    threading.setprofile(start)
    main = cProfile.Profile()
    try:
        main.runcall(function, env)
    finally:
        threading.setprofile(None)
    stats = pstats.Stats(main)
    for profile in profiles:
        profile.create_stats()
        stats.add(profile)
    stats.dump_stats(path)


def dispatch(env):
    """Run the dispatcher (as its cron does) until nothing is due, committing as it goes."""
    Delivery = env["api.sync.delivery"]
    while True:
        env["api.sync.dispatcher"]._cron_dispatch()
        env.cr.commit()
        env.invalidate_all()
        if not Delivery.search_count([("state", "in", ("pending", "sending"))]):
            return


if __name__ == "__main__":
    sys.exit(main())
