"""One sink hanging does not stall the others (issue #8)."""
# pylint: disable=invalid-commit

import collections
import logging
import statistics
import threading
import time

from odoo.tests import tagged

from .dispatch_common import DispatchCase, wait_for
from .receiver import SilentListener

_logger = logging.getLogger(__name__)


@tagged("post_install", "-at_install")
class TestDispatchHangingSink(DispatchCase):
    def test_hanging_sink_does_not_stall_a_healthy_one(self):
        """A receiver that never answers (10 s timeouts) and a healthy one: the healthy one's
        deliveries all arrive, p99 commit -> receipt under 5 s, while the other hangs."""
        with self.real_cursor() as env:
            ICP = env["ir.config_parameter"]
            self.created["params"].setdefault(
                "api_sync.sink_concurrency", ICP.get_param("api_sync.sink_concurrency")
            )
            ICP.set_param("api_sync.sink_concurrency", 8)  # the setting, for a busy machine
            env.cr.commit()
        with SilentListener() as silent, self.real_cursor() as env:
            hanging = self.add_webhook(env, silent.url())
            self.add_webhook(env, self.receiver.url())
            # both subscribe to the model: every record change goes to both
            self.add_records(env, 10, prefix="first")
            done = threading.Event()
            threads, errors, _attempts = self.start_dispatchers(1, until=done.is_set, senders=16)
            try:
                wait_for(
                    lambda: any(
                        state == "sending" for _i, state, *_rest in self.deliveries(hanging)
                    ),
                    30,
                    "the hanging sink's deliveries are in flight",
                )
                commits = {}
                for wave in range(4):  # commits while the hanging sends are in flight
                    records = self.add_records(env, 10, prefix=f"wave{wave}")
                    committed = time.time()
                    commits.update(dict.fromkeys(records.ids, committed))
                expected = 10 + 40
                wait_for(
                    lambda: len(self.receiver.received) >= expected,
                    60,
                    "the healthy receiver gets everything",
                )
            finally:
                done.set()
                self.join(threads)
        self.assertEqual(errors, [])
        gaps = sorted(
            item["at"] - commits[item["payload"]["record_id"]]
            for item in self.receiver.received
            if item["payload"]["record_id"] in commits
        )
        self.assertEqual(len(gaps), 40)
        p99 = gaps[-1]  # 40 samples: the worst one
        _logger.info(
            "healthy sink while another hangs: p50 %.3f s, p99 %.3f s",
            statistics.median(gaps),
            p99,
        )
        self.assertLess(p99, 5)
        states = collections.Counter(state for _i, state, *_rest in self.deliveries(hanging))
        self.assertNotIn("done", states, states)
