"""Issue #7, finding 7: the failed-login throttle is atomic under concurrent attempts.

Parallel attempts only race between real transactions: like the engine tests
(``dispatch_common.py``), this test opens its own connections, lets N threads count an attempt
on one key at the same moment, and deletes the committed counter rows afterwards.
"""
# pylint: disable=invalid-commit

import threading
from contextlib import closing

from odoo import SUPERUSER_ID, api
from odoo.orm.environments import Transaction
from odoo.sql_db import db_connect
from odoo.tests import TransactionCase, tagged
from odoo.tools import SQL

from ..tools.errors import RateLimitExceeded

ATTEMPTS = 16  # each holds two connections at the peak: stay well within the pool


@tagged("post_install", "-at_install")
class TestSecurityThrottle(TransactionCase):
    def real_env(self, cr):
        cr.transaction = Transaction(self.registry)
        return api.Environment(cr, SUPERUSER_ID, {})

    def test_parallel_attempts_are_counted_before_they_are_evaluated(self):
        key = f"login:user:throttle-{self.env.cr.dbname}-{threading.get_ident()}"
        dbname = self.env.cr.dbname
        self.addCleanup(self.delete_counters, dbname, key)
        limit = self.env["api.sync.auth"]._param("login_max_failures")
        self.assertLess(limit, ATTEMPTS)
        barrier = threading.Barrier(ATTEMPTS)
        outcomes, errors = [], []

        def attempt():
            try:
                with closing(db_connect(dbname).cursor()) as cr:
                    auth = self.real_env(cr)["api.sync.auth"]
                    barrier.wait(timeout=60)
                    try:
                        auth._count_login_attempt([key])
                        outcomes.append("evaluated")
                    except RateLimitExceeded:
                        outcomes.append("refused")
            except Exception as exc:  # noqa: BLE001 -- reported by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=attempt) for _n in range(ATTEMPTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        self.assertFalse([t for t in threads if t.is_alive()], "an attempt hung")
        self.assertFalse(errors, errors)
        self.assertEqual(outcomes.count("evaluated"), limit)
        self.assertEqual(outcomes.count("refused"), ATTEMPTS - limit)
        with closing(db_connect(dbname).cursor()) as cr:
            cr.execute(SQL("SELECT sum(hits) FROM api_sync_rate_counter WHERE key = %s", key))
            self.assertEqual(cr.fetchone()[0], ATTEMPTS)

    @staticmethod
    def delete_counters(dbname, key):
        with closing(db_connect(dbname).cursor()) as cr:
            cr.execute(SQL("DELETE FROM api_sync_rate_counter WHERE key = %s", key))
            cr.commit()
