"""Webhook URLs may not reach the server's own network (SSRF), checked at registration and
again at delivery (DNS rebinding). Issue #4, "Subscriptions".

Every refused URL is refused before any connection: nothing here sends traffic anywhere but to
the receiver on 127.0.0.1 (and Odoo's test harness blocks any other host anyway).
"""

from odoo.tests import tagged
from odoo.tools import mute_logger

from .webhook_common import WebhookHttpCase

REFUSED = [
    "https://127.0.0.1/hook",
    "https://127.1/hook",
    "https://2130706433/hook",  # 127.0.0.1 as one decimal number
    "https://0.0.0.0/hook",
    "https://10.0.0.1/",
    "https://172.16.5.4/",
    "https://192.168.1.1/",
    "https://100.64.0.1/",  # carrier-grade NAT
    "https://169.254.169.254/latest/meta-data/",  # cloud metadata
    "https://[::1]/",
    "https://[::ffff:127.0.0.1]/",
    "https://[fd00::1]/",
    "https://[fe80::1]/",
    "https://localhost/",  # resolves to loopback
    "https://224.0.0.1/",  # multicast
    "https://[ff02::1]/",  # multicast
    "https://240.0.0.1/",  # reserved
]


@tagged("post_install", "-at_install")
class TestWebhookSsrf(WebhookHttpCase):
    allow_private_networks = False

    def setUp(self):
        super().setUp()
        self.ICP = self.env["ir.config_parameter"].sudo()
        self.ICP.set_param("api_sync.webhook_allow_http", False)  # False deletes the parameter
        self.ICP.set_param("api_sync.webhook_allow_private_networks", False)

    def test_http_refused_unless_allowed(self):
        error = self.assertApiError(
            self.api("POST", "/webhooks", json=self.spec_body(url="http://example.com/hook")),
            400, "VALIDATION_ERROR", field="url",
        )  # fmt: skip
        self.assertIn("https", error["message"])
        self.assertEqual(error["details"]["constraint"], "scheme")

    def test_non_public_addresses_refused(self):
        for url in REFUSED:
            with self.subTest(url=url):
                response = self.api("POST", "/webhooks", json=self.spec_body(url=url))
                error = self.assertApiError(response, 400, "VALIDATION_ERROR", field="url")
                self.assertEqual(error["details"]["constraint"], "ssrf", error)
                self.assertIn("non-public", error["message"])
        # the same through /events/subscribe and when changing a subscription
        body = {"events": ["record.created"], "model": "res.partner",
                "callback_url": "https://169.254.169.254/"}  # fmt: skip
        self.assertApiError(
            self.api("POST", "/events/subscribe", json=body), 400, "VALIDATION_ERROR", field="url"
        )
        self.assertFalse(self.Webhook.search([]))
        self.assertEqual(self.receiver.requests, [])

    def test_change_to_private_address_refused(self):
        self.ICP.set_param("api_sync.webhook_allow_private_networks", "True")
        self.ICP.set_param("api_sync.webhook_allow_http", "True")
        webhook, result = self.register()
        self.ICP.set_param("api_sync.webhook_allow_private_networks", False)
        response = self.api("PATCH", f"/webhooks/{result['webhook_id']}",
                            json={"url": "https://10.1.2.3/hook"})  # fmt: skip
        self.assertApiError(response, 400, "VALIDATION_ERROR", field="url")
        self.env.invalidate_all()
        self.assertEqual(webhook.url, self.receiver.url())

    def test_setting_lifts_the_address_check(self):
        """On-premise receivers: the setting allows private addresses, https still required."""
        self.ICP.set_param("api_sync.webhook_allow_private_networks", "True")
        webhook, _result = self.register(self.spec_body(url="https://10.0.0.1/hook"))
        self.assertEqual(webhook.url, "https://10.0.0.1/hook")
        self.assertApiError(
            self.api("POST", "/webhooks", json=self.spec_body(url="http://10.0.0.1/hook")),
            400, "VALIDATION_ERROR", field="url",
        )  # fmt: skip

    def test_dns_rebinding_checked_at_delivery(self):
        """Registered while allowed; at delivery time the address is refused, nothing is sent."""
        self.ICP.set_param("api_sync.webhook_allow_private_networks", "True")
        self.ICP.set_param("api_sync.webhook_allow_http", "True")
        webhook, _result = self.register()
        partner = self.create_partner()
        self.ICP.set_param("api_sync.webhook_allow_private_networks", False)

        with mute_logger("odoo.addons.api_sync"):
            self.assertEqual(self.dispatch(), 1)
        delivery = self.deliveries_of(webhook)
        self.assertEqual(len(delivery), 1)
        self.assertEqual(delivery.event_id.res_id, partner.id)
        self.assertEqual(delivery.state, "retry", "kept for later: nothing is dropped")
        self.assertEqual(delivery.attempts, 1)
        self.assertTrue(delivery.last_error.startswith("address refused"), delivery.last_error)
        self.assertIn("non-public", delivery.last_error)
        self.assertFalse(delivery.last_status)
        self.assertEqual(self.receiver.requests, [], "no connection was made")

        # visible through the API as a failed attempt with its reason
        response = self.api("GET", f"/webhooks/{webhook.identifier}/deliveries")
        [row] = response.json()["data"]
        self.assertEqual((row["status"], row["attempts"]), ("retry", 1))
        self.assertTrue(row["last_error"].startswith("address refused"))
