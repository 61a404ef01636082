"""Issue #7, finding 6: webhooks only carry what their owner may read."""

from odoo.tests import new_test_user, tagged

from .security_common import API_GROUPS
from .webhook_common import WebhookHttpCase

# ``credit`` of res.partner is readable by accounting users only
RESTRICTED_FIELD = "credit"


@tagged("post_install", "-at_install")
class TestSecurityWebhooks(WebhookHttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other_user = new_test_user(
            cls.env, login="other_hooker", password="other_hooker_pw", groups=API_GROUPS
        )
        cls.other_key = (
            cls.env["res.users.apikeys"].with_user(cls.other_user).sudo()._generate(None, "o", None)
        )

    def test_registration_needs_read_access_to_the_model(self):
        self.assertFalse(self.env["account.move"].with_user(self.api_user).has_access("read"))
        count = self.Webhook.search_count([])
        body = self.spec_body(model="account.move", fields=[], conditions=[])
        self.assertApiError(self.api("POST", "/webhooks", json=body), 403, "PERMISSION_DENIED")
        self.assertEqual(self.Webhook.search_count([]), count)

    def test_conditions_on_unreadable_fields_are_refused(self):
        field = self.env["res.partner"]._fields[RESTRICTED_FIELD]
        self.assertFalse(self.env["res.partner"].with_user(self.api_user)._has_field_access(
            field, "read"))  # fmt: skip
        count = self.Webhook.search_count([])
        for conditions in (
            [[RESTRICTED_FIELD, ">", 100]],
            [["child_ids", "any", [[RESTRICTED_FIELD, ">", 100]]]],
            [["parent_id." + RESTRICTED_FIELD, ">", 100]],
        ):
            with self.subTest(conditions=conditions):
                response = self.api("POST", "/webhooks", json=self.spec_body(conditions=conditions))
                self.assertApiError(response, 400, "VALIDATION_ERROR")
        response = self.api("POST", "/webhooks", json=self.spec_body(fields=[RESTRICTED_FIELD]))
        self.assertApiError(response, 403, "PERMISSION_DENIED")
        self.assertEqual(self.Webhook.search_count([]), count)
        # nor on a change of an existing subscription
        webhook, _result = self.register()
        response = self.api("PATCH", f"/webhooks/{webhook.identifier}",
                            json={"conditions": [[RESTRICTED_FIELD, ">", 0]]})  # fmt: skip
        self.assertApiError(response, 400, "VALIDATION_ERROR")
        self.assertEqual(webhook.conditions, [["customer_rank", ">", 0]])

    def test_conditions_on_unreadable_fields_match_nothing_at_delivery(self):
        """A subscription whose condition became unreadable to its owner (rights changed after
        registration) receives nothing: the condition is no oracle on the field's value."""
        oracle = self.Webhook.create({
            "url": self.receiver.url(), "model_name": "res.partner", "events": ["record.created"],
            "conditions": [[RESTRICTED_FIELD, "=", 0]], "user_id": self.api_user.id,
            "secret": "whsec_x",
        })  # fmt: skip
        control = self.Webhook.create({
            "url": self.receiver.url(), "model_name": "res.partner", "events": ["record.created"],
            "conditions": [["customer_rank", ">", 0]], "user_id": self.api_user.id,
            "secret": "whsec_y",
        })  # fmt: skip
        self.create_partner()
        self.assertFalse(self.deliveries_of(oracle))
        self.assertEqual(len(self.deliveries_of(control)), 1)

    def test_batch_completed_reaches_the_batch_owner_only(self):
        events = ["batch.completed"]
        mine, _r = self.register(self.spec_body(events=events, conditions=[]))
        response = self.api("POST", "/webhooks", token=self.other_key,
                            json=self.spec_body(events=events, conditions=[]))  # fmt: skip
        self.assertEqual(response.status_code, 201, response.text)
        others = self.Webhook.search([("user_id", "=", self.other_user.id)])
        client_token = self.client_token()
        response = self.api("POST", "/webhooks", token=client_token,
                            json=self.spec_body(events=events, conditions=[]))  # fmt: skip
        self.assertEqual(response.status_code, 201, response.text)
        clients = self.Webhook.search([("client_id", "=", self.client.id)])
        body = {"operations": [{"method": "create", "data": {"name": "Batch 1"}}]}
        self.assertEqual(self.api("POST", "/res.partner/batch", json=body).status_code, 200)
        self.assertEqual(len(self.deliveries_of(mine)), 1)
        self.assertFalse(self.deliveries_of(others))
        self.assertFalse(self.deliveries_of(clients))
        # and the client's batch reaches the client's subscription only
        response = self.api("POST", "/res.partner/batch", json=body, token=client_token)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(len(self.deliveries_of(mine)), 1)
        self.assertFalse(self.deliveries_of(others))
        self.assertEqual(len(self.deliveries_of(clients)), 1)

    def test_url_guard_sees_ipv4_inside_ipv6_and_bad_ports(self):
        ICP = self.env["ir.config_parameter"].sudo()
        ICP.set_param("api_sync.webhook_allow_private_networks", "False")
        count = self.Webhook.search_count([])
        for url in (
            "http://[::127.0.0.1]/hook",
            "http://[::ffff:127.0.0.1]/hook",
            "http://[64:ff9b::7f00:1]/hook",
            "http://[::ffff:0:7f00:1]/hook",
            "http://[2002:7f00:1::]/hook",
            "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook",
            "http://127.0.0.1:80:80/hook",
            "http://127.0.0.1:99999/hook",
        ):
            with self.subTest(url=url):
                response = self.api("POST", "/webhooks", json=self.spec_body(url=url))
                self.assertApiError(response, 400, "VALIDATION_ERROR", field="url")
        # a malformed port is refused even where private receivers are allowed
        ICP.set_param("api_sync.webhook_allow_private_networks", "True")
        response = self.api("POST", "/webhooks", json=self.spec_body(url="http://127.0.0.1:80:80/"))
        self.assertApiError(response, 400, "VALIDATION_ERROR", field="url")
        self.assertEqual(self.Webhook.search_count([]), count)
