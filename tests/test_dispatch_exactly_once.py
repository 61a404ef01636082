"""Any number of dispatchers: each delivery sent until its 2xx and never after, in commit
order per record (issue #8)."""
# pylint: disable=invalid-commit

import collections
import logging
import time

from odoo.tests import tagged

from .dispatch_common import DispatchCase

_logger = logging.getLogger(__name__)


@tagged("post_install", "-at_install")
class TestDispatchExactlyOnce(DispatchCase):
    def test_four_dispatchers_2000_events_with_failures(self):
        """4 dispatchers on 4 connections, 2,000 events over 200 records, 10 % answered 500:
        all delivered, no dispatcher error, order kept per record, nothing sent twice."""
        self.receiver.fail_randomly(0.1, seed=8)
        with self.real_cursor() as env:
            webhook = self.add_webhook(env, self.receiver.url())
            records = self.add_records(env, 200)
            for round_ in range(9):  # 200 creations + 9 x 200 updates, one commit each
                for record in records:
                    record.name = f"{record.id} v{round_}"
                env.cr.commit()
        rows = self.deliveries(webhook)
        self.assertEqual(len(rows), 2000)
        started = time.monotonic()
        threads, errors, attempts = self.start_dispatchers(
            4, until=lambda: len(self.receiver.received) >= 2000
        )
        self.join(threads)
        elapsed = time.monotonic() - started
        _logger.info("2000 deliveries in %.1f s, attempts per dispatcher %s", elapsed, attempts)
        self.assertEqual(errors, [])
        rows = self.deliveries(webhook)
        self.assertEqual(collections.Counter(r[1] for r in rows), {"done": 2000})
        failed = sum(1 for r in self.receiver.requests if r["status"] == 500)
        self.assertGreater(failed, 100, "the receiver did fail some")
        self.assertEqual(sum(r[2] for r in rows), 2000 + failed, "one attempt per request")
        self.assertTrue(all(r["problem"] is None for r in self.receiver.requests))
        self.assert_in_order_once(rows)
