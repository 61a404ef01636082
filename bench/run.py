#!/usr/bin/env python3
"""Benchmark of api_sync against Odoo's own ORM and ``/json/2`` (issues 2, 3, 4 and 8).

Modules: ``harness.py`` (helpers, client, processes, in-process Odoo), ``scenarios.py`` (the
``Bench`` driver and its measurements), ``engine.py`` (the delivery engine's scenarios),
``report.py`` (the table). ``--only a,b`` runs the named sections only.

Normally started by ``bench/run.sh`` (``make bench``), which creates the database with api_sync
installed and passes the database arguments after ``--``. This script:

- prepares the database in-process (API key for admin, high rate limits, http/private webhook
  receivers allowed, products; the other crons are postponed so they do not run during the
  measurements),
- starts a local webhook receiver (bench/receiver.py) and a real Odoo server
  (``--workers=2 --max-cron-threads=1``) on 127.0.0.1,
- measures: 1. authentication cost, 2. 1000-record batch create, 3. single operations,
  4. outbox overhead on the write path, 5. delivery throughput (receivers answering in 20 and
  200 ms), a healthy sink next to a hanging one, commit-to-receipt latency idle and busy,
- stops the server and the receiver and prints the table (also written to
  ``<results>/latest.txt``).

These are benchmarks, not tests: figures are printed, never judged. The exit status is 1 only
when a measurement could not run.
"""

# pylint: disable=print-used  (a command-line program: it prints the benchmark's table)
import argparse
import os
import sys

from harness import BenchError
from scenarios import Bench

HERE = os.path.dirname(os.path.abspath(__file__))


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
