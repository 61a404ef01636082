"""Fixtures of the webhook tests (issue #4): a live receiver, registration and dispatch helpers."""

import base64
import re

from odoo import fields

from .common import ApiSyncHttpCase
from .receiver import WebhookReceiver

ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def expected_auth_header(auth):
    """The (name, value) header a subscription's ``authentication`` must produce."""
    auth = auth or {}
    if auth.get("type") == "bearer":
        return ("Authorization", f"Bearer {auth['token']}")
    if auth.get("type") == "basic":
        pair = f"{auth['username']}:{auth['password']}".encode()
        return ("Authorization", "Basic " + base64.b64encode(pair).decode())
    if auth.get("type") == "header":
        return (auth["name"], auth["value"])
    return None


class WebhookHttpCase(ApiSyncHttpCase):
    """``ApiSyncHttpCase`` with a :class:`WebhookReceiver` on 127.0.0.1 for the whole class.

    The receiver's ``http://127.0.0.1`` URL needs ``api_sync.webhook_allow_http`` and
    ``api_sync.webhook_allow_private_networks``: both are set for every test (in the test
    transaction, rolled back afterwards).
    """

    allow_private_networks = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.receiver = WebhookReceiver().start()
        cls.addClassCleanup(cls.receiver.stop)
        cls.Webhook = cls.env["api.sync.webhook"]
        cls.Delivery = cls.env["api.sync.delivery"]
        cls.Event = cls.env["api.sync.event"]

    def setUp(self):
        super().setUp()
        self.receiver.reset()
        ICP = self.env["ir.config_parameter"].sudo()
        ICP.set_param("api_sync.webhook_allow_http", "True")
        ICP.set_param("api_sync.webhook_allow_private_networks", str(self.allow_private_networks))

    # -- helpers -----------------------------------------------------------------------------------
    def spec_body(self, **overrides):
        """The registration body of the spec ("Webhook Registration"), url -> the receiver."""
        body = {
            "url": self.receiver.url(),
            "events": ["create", "update", "delete"],
            "model": "res.partner",
            "fields": ["name", "email", "phone"],
            "conditions": [["customer_rank", ">", 0]],
            "authentication": {"type": "bearer", "token": "external-api-token"},
        }
        body.update(overrides)
        return body

    def register(self, body=None, token=None, path="/webhooks"):
        """Register a subscription; the receiver then expects its secret and auth header.

        Returns ``(webhook record, response body)``.
        """
        body = self.spec_body() if body is None else body
        response = self.api("POST", path, json=body, token=token)
        self.assertEqual(response.status_code, 201, response.text)
        result = response.json()
        self.receiver.secret = result["secret"]
        self.receiver.auth = expected_auth_header(body.get("authentication"))
        webhook = self.Webhook.search([("identifier", "=", result["webhook_id"])])
        self.assertEqual(len(webhook), 1)
        return webhook, result

    def create_partner(self, **values):
        data = {"name": "John Doe", "email": "john@example.com", "phone": "+1234567890",
                "customer_rank": 1, **values}  # fmt: skip
        response = self.api("POST", "/res.partner", json={"data": data})
        self.assertEqual(response.status_code, 201, response.text)
        return self.env["res.partner"].browse(response.json()["id"])

    def update_partner(self, partner, **values):
        response = self.api("PATCH", f"/res.partner/{partner.id}", json={"data": values})
        self.assertEqual(response.status_code, 200, response.text)

    def dispatch(self):
        """One dispatcher batch in the test transaction; returns how many were attempted."""
        self.env.invalidate_all()
        attempted = self.env["api.sync.dispatcher"]._dispatch_batch()
        self.env.flush_all()
        self.env.invalidate_all()
        return attempted

    def make_due(self, deliveries):
        """Pretend the retry delay of ``deliveries`` has passed."""
        deliveries.write(
            {"next_attempt_at": fields.Datetime.subtract(fields.Datetime.now(), seconds=1)}
        )

    def deliveries_of(self, webhook):
        self.env.invalidate_all()
        return self.Delivery.search([("webhook_id", "=", webhook.id)], order="id")
