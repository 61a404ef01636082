#!/usr/bin/env python3
"""Connector figures of issue #9: POS orders pushed to the Tactill double through the outbox.

Runs in-process against a database where api_sync is installed (``make bench`` keeps one with
``KEEP_DB=1``; ``make test KEEP_DB=1`` too)::

    python3 bench/connectors.py -d DB [--orders 1000] [-- odoo options, e.g. --db_host ...]

It measures, in one run:

1. the cost the connector adds to paying an order through ``pos.order.sync_from_ui`` (each
   order its own transaction, with and without an active Tactill backend);
2. orders per second pushed by the dispatcher to the double with its budget lifted;
3. the same with Tactill's sandbox budget scaled down (3,000 writes per 600 s -> 50 per 10 s):
   requests above the budget (429 answers) and the time taken against the least the budget
   allows.

Everything it creates is committed in that database (a bench database, not a real one).
Figures are printed, never judged.
"""

# pylint: disable=print-used,invalid-commit  (a command-line program: it prints its figures
# and commits what it creates in the bench database)
import argparse
import math
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

from tactill_double import TactillDouble  # noqa: E402  (an Odoo-free module of the tests)


def parse():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-d", "--database", required=True)
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--cost-orders", type=int, default=200)
    parser.add_argument("--budget-orders", type=int, default=300)
    parser.add_argument("--budget", type=int, default=50, help="writes per window (scaled)")
    parser.add_argument("--window", type=float, default=10.0, help="seconds (scaled)")
    parser.add_argument("odoo_args", nargs="*")
    return parser.parse_args()


def main():
    args = parse()
    import odoo  # noqa: PLC0415
    from odoo.modules.registry import Registry  # noqa: PLC0415

    odoo.tools.config.parse_config(["-d", args.database, *args.odoo_args])
    registry = Registry(args.database)
    from odoo.addons.api_sync.tests.pos_common import PosFixtures  # noqa: PLC0415

    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        env = env(user=env.ref("base.user_admin"), su=True)  # a POS user who may open sessions
        bench = type("Bench", (PosFixtures,), {"env": env})
        bench.setup_pos()
        taxes = [(bench.tax_825,), (bench.tax_5,), (bench.tax_825, bench.tax_5),
                 (bench.tax_10_incl,)]  # fmt: skip
        products = [
            bench.make_product(
                f"Bench {n}",
                round(random.uniform(0.5, 30), 2),
                taxes=taxes[n % 4],
                default_code=f"BENCH-{n}",
            )
            for n in range(24)
        ]
        runner = bench()
        double = TactillDouble(budget=10**9, window=600).start()
        backend = env["api.sync.tactill.backend"].create({
            "name": "Bench", "base_url": double.url(), "api_key": double.add_key(),
            "shop_id": "shop", "source_id": "odoo-bench", "source_name": "Bench",
            "write_budget": 0, "write_window": 600, "active": False,
        })  # fmt: skip
        cr.commit()

        def pay(n):
            for index in range(n):
                lines = [(random.choice(products), random.randint(1, 3),
                          random.choice((0, 0, 10)))
                         for _line in range(2 + index % 5)]  # fmt: skip
                runner.pay_order(lines)
                cr.commit()

        def dispatch():
            Dispatcher = env["api.sync.dispatcher"]
            while True:
                env.invalidate_all()
                done = Dispatcher._dispatch_batch()
                cr.commit()
                if not done:
                    Delivery = env["api.sync.delivery"]
                    if not Delivery.search_count(
                        [("sink_model", "=", backend._name), ("state", "in", ("pending", "retry"))]
                    ):
                        return  # fmt: skip
                    time.sleep(0.2)  # a retry is due later (a 429's moment)
                    env["api.sync.delivery"].search([
                        ("sink_model", "=", backend._name), ("state", "=", "retry"),
                    ]).write({"next_attempt_at": odoo.fields.Datetime.now()})  # fmt: skip
                    cr.commit()

        # 1. cost on sync_from_ui
        pay(20)  # warm-up
        started = time.perf_counter()
        pay(args.cost_orders)
        without = time.perf_counter() - started
        backend.active = True
        cr.commit()
        started = time.perf_counter()
        pay(args.cost_orders)
        with_connector = time.perf_counter() - started
        dispatch()  # products bound, queue empty

        # 2. throughput, budget lifted
        pay(args.orders)
        double.clear_log()
        started = time.perf_counter()
        dispatch()
        elapsed = time.perf_counter() - started
        pushed = len(double.writes("/v0/sales"))

        # 3. the sandbox budget, scaled down
        double.budget, double.window = args.budget, args.window
        backend.write({"write_budget": args.budget, "write_window": int(args.window)})
        pay(args.budget_orders)
        double.clear_log()
        started = time.perf_counter()
        dispatch()
        budget_elapsed = time.perf_counter() - started
        writes = len(double.writes())
        least = (math.ceil(writes / args.budget) - 1) * args.window
        double.stop()

    print(
        f"connector cost on sync_from_ui ({args.cost_orders} orders): "
        f"{with_connector / args.cost_orders * 1000:.1f} ms vs "
        f"{without / args.cost_orders * 1000:.1f} ms per order = "
        f"{with_connector / without:.2f}x (target <= 1.10x)"
    )
    print(
        f"push, budget lifted: {pushed} sales in {elapsed:.1f} s = {pushed / elapsed:.0f} "
        f"orders/s (target >= 50/s)"
    )
    print(
        f"push, budget {args.budget} writes / {args.window:g} s: {writes} writes in "
        f"{budget_elapsed:.1f} s, least the budget allows {least:.1f} s "
        f"({budget_elapsed / least if least else 0:.2f}x, target within 1.10x); requests "
        f"above the budget (429): {double.limited} (target 0)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
