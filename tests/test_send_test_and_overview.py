"""The webhook form's *Send Test* tells its outcome, and the Sync overview's cards (issues #9
and #12)."""

from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .webhook_common import WebhookHttpCase


@tagged("post_install", "-at_install")
class TestSendTestAndOverview(WebhookHttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.viewer = new_test_user(
            cls.env, login="overview_viewer", groups="base.group_user,api_sync.group_api_sync_user"
        )

    def test_send_test_reports_delivery(self):
        webhook, _result = self.register()
        action = webhook.action_send_test()
        self.assertEqual(action["tag"], "display_notification")
        params = action["params"]
        self.assertEqual(params["type"], "success")
        self.assertIn("HTTP 200", params["message"])
        self.assertIn(webhook.url, params["message"])
        [ping] = self.receiver.payloads()
        self.assertEqual(ping["event"], "ping")
        delivery = self.deliveries_of(webhook)
        self.assertEqual((delivery.event_type, delivery.state), ("ping", "done"))

    def test_send_test_reports_the_error(self):
        webhook, _result = self.register()
        self.receiver.answer(500)
        params = webhook.action_send_test()["params"]
        self.assertEqual(params["type"], "danger")
        self.assertIn("HTTP 500", params["message"])
        self.assertIn("retried", params["message"])
        self.assertEqual(self.deliveries_of(webhook).state, "retry")

    def test_send_test_is_for_managers(self):
        webhook, _result = self.register()
        with self.assertRaises(AccessError):
            webhook.with_user(self.viewer).action_send_test()
        self.assertFalse(self.deliveries_of(webhook))

    def test_overview_cards(self):
        webhook, _result = self.register()
        webhook.user_id = self.viewer  # users see the cards of their own webhooks
        self.create_partner(name="First")
        self.dispatch()
        self.receiver.answer(500)
        self.create_partner(name="Second")
        self.dispatch()
        self.create_partner(name="Third")  # queued, not sent
        dead = self.deliveries_of(webhook)[0].copy(
            {"state": "dead", "attempts": 25, "last_attempt_at": False}
        )
        data = self.env["api.sync.overview"].with_user(self.viewer).get_cards()
        self.assertFalse(data["isManager"])
        [card] = [c for c in data["cards"] if (c["model"], c["id"]) == (webhook._name, webhook.id)]
        self.assertEqual(card["name"], webhook.display_name)
        self.assertEqual(card["kind"], self.env["ir.model"]._get(webhook._name).name)
        self.assertEqual((card["state"], card["state_label"]), ("active", "Active"))
        self.assertEqual((card["pending"], card["failed"], card["dead"]), (1, 1, 1))
        self.assertTrue(card["last_success_at"].endswith("Z"))
        # pushes per hour over the last 24 hours: this hour holds the sent and the failed one
        self.assertEqual(len(card["series"]), data["hours"])
        self.assertEqual(card["series"][-1]["done"], 1)
        self.assertEqual(card["series"][-1]["failed"], 1)
        self.assertEqual((card["sent"], card["failed_recent"]), (1, 1))
        self.assertEqual(sum(point["done"] for point in card["series"][:-1]), 0)
        # a delivery sent five hours ago counts in that hour
        dead.write({"state": "done", "delivered_at": fields.Datetime.now() - timedelta(hours=5)})
        card = next(
            c
            for c in self.env["api.sync.overview"].get_cards()["cards"]
            if (c["model"], c["id"]) == (webhook._name, webhook.id)
        )
        self.assertEqual(card["series"][-6]["done"], 1)
        self.assertEqual(card["sent"], 2)

    def test_overview_is_for_sync_users(self):
        stranger = new_test_user(self.env, login="stranger", groups="base.group_user")
        with self.assertRaises(AccessError):
            self.env["api.sync.overview"].with_user(stranger).get_cards()
        self.assertTrue(self.env["api.sync.overview"].get_cards()["isManager"])
