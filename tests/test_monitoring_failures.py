"""Monitoring of deliveries (issues #9 and #12): readable deliveries, the failed list's Retry,
Mark resolved and Retry all, for managers only."""

import ast

from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .receiver import Answer
from .webhook_common import WebhookHttpCase


@tagged("post_install", "-at_install")
class TestMonitoringFailures(WebhookHttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.viewer = new_test_user(
            cls.env, login="sync_viewer", groups="base.group_user,api_sync.group_api_sync_user"
        )

    def failed_delivery(self, status=500, name="John Doe"):
        """A delivery to a receiver that answered ``status`` (or an :class:`Answer`):
        retrying, with the remote error."""
        webhook, _result = self.register()
        partner = self.create_partner(name=name)
        self.receiver.answer(status)
        self.dispatch()
        [delivery] = self.deliveries_of(webhook)
        self.assertEqual(delivery.state, "retry")
        return webhook, partner, delivery

    def test_delivery_says_what_it_is(self):
        webhook, partner, delivery = self.failed_delivery()
        self.assertEqual(delivery.record_display, f"Contact: {partner.display_name}")
        self.assertIn("127.0.0.1", delivery.sink_name)
        self.assertEqual(delivery.sink_name, webhook.display_name)
        self.assertEqual(
            delivery.display_name, f"Record Created · Contact: John Doe → {webhook.display_name}"
        )
        self.assertTrue(webhook.display_name.startswith(f"{webhook.identifier} (res.partner → "))
        self.assertTrue(delivery.last_error)
        self.assertEqual(delivery.last_status, 500)
        self.assertTrue(delivery.remote_error.startswith(delivery.last_error))
        # a ping names no record
        webhook.action_send_test()
        ping = self.deliveries_of(webhook).filtered(lambda d: d.event_type == "ping")
        self.assertEqual(ping.record_display, "Contact")
        self.assertNotIn(",0", ping.display_name)
        # a deleted record keeps its last known name
        self.assertEqual(self.api("DELETE", f"/res.partner/{partner.id}").status_code, 200)
        deleted = self.deliveries_of(webhook).filtered(lambda d: d.event_type == "record.deleted")
        self.assertEqual(deleted.record_display, "Contact: John Doe")

    def test_remote_error_shows_what_the_receiver_answered(self):
        body = b'{"error": "category \'Mugs\' is unknown"}'
        _webhook, _partner, delivery = self.failed_delivery(Answer(422, body=body))
        self.assertEqual(
            delivery.remote_error, 'HTTP 422: {"error": "category \'Mugs\' is unknown"}'
        )

    def test_record_a_user_cannot_read_shows_its_id_only(self):
        webhook, partner, delivery = self.failed_delivery(name="Secret Name")
        webhook.user_id = self.viewer  # users read the deliveries of their own webhooks
        partner.company_id = self.env["res.company"].create({"name": "Other Company"})
        shown = delivery.with_user(self.viewer).record_display
        self.assertEqual(shown, f"Contact #{partner.id}")

    def test_mark_resolved_then_retry(self):
        webhook, _partner, delivery = self.failed_delivery()
        delivery.action_mark_resolved()
        self.assertEqual(delivery.state, "resolved")
        self.assertEqual(delivery.resolved_by_id, self.env.user)
        self.assertTrue(delivery.resolved_at)
        # out of the failure counts and of the dispatcher's queue
        self.assertEqual(webhook.dead_count, 0)
        self.assertEqual(self.dispatch(), 0)
        # retried later: a fresh series of attempts, delivered
        delivery.action_retry()
        self.assertEqual((delivery.state, delivery.attempts), ("pending", 0))
        self.assertFalse(delivery.resolved_by_id)
        self.dispatch()
        self.assertEqual(delivery.state, "done")

    def test_retry_all_per_sink(self):
        webhook, _partner, delivery = self.failed_delivery()
        other_webhook = webhook.copy({"url": "https://hooks.example.com/other"})
        other = delivery.copy({"sink_id": other_webhook.id, "state": "dead"})
        Delivery = self.Delivery.with_context(api_sync_sink=f"{webhook._name},{webhook.id}")
        action = Delivery.action_retry_all()
        self.assertEqual(action["params"]["message"], "1 deliveries queued again")
        self.assertEqual(delivery.state, "pending")
        self.assertEqual(other.state, "dead")
        # without a sink: every failed delivery
        self.Delivery.action_retry_all()
        self.assertEqual(other.state, "pending")

    def test_failure_actions_are_for_managers(self):
        webhook, _partner, delivery = self.failed_delivery()
        # the viewer reads nobody else's deliveries (record rules), its own webhook's it does
        self.assertFalse(delivery.with_user(self.viewer)._filtered_access("read"))
        webhook.user_id = self.viewer
        as_viewer = delivery.with_user(self.viewer)
        for method in ("action_retry", "action_mark_resolved", "action_retry_all"):
            with self.assertRaises(AccessError):
                getattr(as_viewer, method)()
        self.assertEqual(delivery.state, "retry")
        # the viewer reads the failed list, with the remote error
        failed = self.env.ref("api_sync.action_api_sync_delivery_failed")
        rows = self.Delivery.with_user(self.viewer).search_read(
            ast.literal_eval(failed.domain), ["display_name", "last_error", "state"]
        )
        self.assertIn(delivery.id, [row["id"] for row in rows])
        self.assertTrue(next(r for r in rows if r["id"] == delivery.id)["last_error"])
