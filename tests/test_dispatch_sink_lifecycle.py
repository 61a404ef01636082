"""Deleting or pausing a sink while its deliveries are in flight (issue #8)."""
# pylint: disable=invalid-commit

import collections

import requests

from odoo.tests import tagged

from .dispatch_common import DispatchCase


@tagged("post_install", "-at_install")
class TestDispatchSinkLifecycle(DispatchCase):
    def test_delete_or_pause_a_sink_while_its_deliveries_are_in_flight(self):
        """A user's transaction that began before a dispatcher recorded outcomes deletes (or
        pauses) the sink the first time; the dispatcher drops the deleted sink's deliveries."""
        with self.real_cursor() as env:
            paused = self.add_webhook(env, self.receiver.url())
            deleted = self.add_webhook(env, self.receiver.url())
            self.add_records(env, 5)
        for webhook, action in ((paused, "pause"), (deleted, "delete")):
            with self.real_cursor() as user:
                sink = user["api.sync.webhook"].browse(webhook.id)
                self.assertEqual(sink.state, "active")  # the user's snapshot is taken
                with self.real_cursor() as env:
                    Dispatcher = env["api.sync.dispatcher"]
                    ids = Dispatcher._claim_committed(3, "t1")
                    self.assertTrue(ids)
                    with requests.Session() as session:
                        outcomes = [
                            (
                                delivery_id,
                                "t1",
                                env["api.sync.delivery"].browse(delivery_id)._attempt(session),
                            )
                            for delivery_id in ids
                        ]
                    # outcomes committed after the user's snapshot
                    Dispatcher._record_and_claim(outcomes, 0, None)
                if action == "pause":
                    sink.action_pause()
                else:
                    sink.unlink()
                user.cr.commit()
        with self.real_cursor() as env:
            env["api.sync.dispatcher"]._claim_committed(10, "t2")  # holds the paused sink's
            env["api.sync.delivery"]._gc_deleted_sinks()
            env.cr.commit()
        self.assertEqual(self.deliveries(deleted), [], "a deleted sink's deliveries are removed")
        states = collections.Counter(state for _i, state, *_r in self.deliveries(paused))
        self.assertEqual(states["sending"], 0, states)
        self.assertGreater(states["on_hold"], 0, states)
