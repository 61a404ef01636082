"""A dispatcher stopped hard between sending and recording (issue #8)."""
# pylint: disable=invalid-commit

import requests

from odoo import fields
from odoo.tests import tagged

from .dispatch_common import DispatchCase, wait_for


@tagged("post_install", "-at_install")
class TestDispatchCrash(DispatchCase):
    def test_dispatcher_stopped_between_sending_and_recording(self):
        """A dispatcher dies after the receiver got the delivery, before recording it: the
        delivery is sent again after its lease, with the same webhook-id, and the dead
        dispatcher's late outcome is ignored."""
        with self.real_cursor({"api_sync_lease": 1}) as env:
            webhook = self.add_webhook(env, self.receiver.url())
            self.add_records(env, 1)
            [(delivery_id, *_rest)] = self.deliveries(webhook)
            Dispatcher = env["api.sync.dispatcher"]
            token = "dead-dispatcher"
            self.assertEqual(Dispatcher._claim_committed(10, token), [delivery_id])
        # the "dead" dispatcher sends with its own cursor, then stops without recording
        with self.real_cursor({"api_sync_own_cursor": True}) as env:
            delivery = env["api.sync.delivery"].browse(delivery_id)
            with requests.Session() as session:
                values, health = delivery._attempt(session)
            self.assertEqual(values["state"], "done")
        self.assertEqual(len(self.receiver.received), 1)
        self.assertEqual(self.deliveries(webhook)[0][1], "sending")

        def lease_over():
            with self.real_cursor() as env:
                env.cr.execute(
                    "SELECT lease_until < %s FROM api_sync_delivery WHERE id = %s",
                    [fields.Datetime.now(), delivery_id],
                )
                return env.cr.fetchone()[0]

        wait_for(lease_over, 30, "the lease expires")
        threads, errors, _attempts = self.start_dispatchers(
            1, until=lambda: len(self.receiver.received) >= 2
        )
        self.join(threads)
        self.assertEqual(errors, [])
        first, second = self.receiver.received
        self.assertEqual(first["id"], second["id"], "sent again with the same webhook-id")
        [(_id, state, attempts, *_rest)] = self.deliveries(webhook)
        self.assertEqual((state, attempts), ("done", 1))
        with self.real_cursor() as env:
            late = env["api.sync.delivery"].browse(delivery_id)
            recorded = env["api.sync.dispatcher"]._short_transaction(
                lambda: late._record_outcomes([(late.id, token, (values, health))])
            )
            self.assertFalse(recorded, "the dead dispatcher's claim was taken over")
