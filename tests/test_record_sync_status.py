"""The smart button of product and POS order forms (issue #9): the record's sync status per
sink, from its latest delivery to each."""

from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .webhook_common import WebhookHttpCase


@tagged("post_install", "-at_install")
class TestRecordSyncStatus(WebhookHttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.template = cls.env["product.template"].create({"name": "Sync Mug", "list_price": 9})

    def setUp(self):
        super().setUp()
        body = self.spec_body(model="product.template", fields=["name", "list_price"])
        body.pop("conditions")
        self.webhook, _result = self.register(body)

    def change(self, **values):
        """Write the template and commit-time fan-out (the outbox's precommit hook)."""
        self.template.write(values)
        self.env.cr.flush()
        self.env.invalidate_all()

    def test_status_follows_the_latest_delivery(self):
        self.assertEqual(self.template.api_sync_status, "Not synced")
        self.change(list_price=10)
        self.assertEqual(self.template.api_sync_status, "1 pending")
        self.dispatch()
        self.assertEqual(self.template.api_sync_status, "Synced")
        self.assertFalse(self.template.api_sync_failed)
        self.receiver.answer(502)
        self.change(list_price=11)
        self.dispatch()
        self.assertEqual(self.template.api_sync_status, "1 failed")
        self.assertTrue(self.template.api_sync_failed)
        # the dialog: one line per sink, with the remote error
        action = self.template.action_api_sync_status()
        status = self.env["api.sync.record.status"].browse(action["res_id"])
        self.assertEqual(len(status.line_ids), 1)
        line = status.line_ids
        self.assertEqual(line.sink_name, self.webhook.display_name)
        self.assertEqual(line.state, "retry")
        self.assertIn("502", line.last_error)
        deliveries = status.action_view_deliveries()
        self.assertEqual(
            self.env["api.sync.delivery"].search(deliveries["domain"]),
            self.deliveries_of(self.webhook),
        )

    def test_dialog_shows_bindings_of_connector_backends(self):
        """A backend's binding gives the line its external id; a binding without a delivery
        (bound by an earlier push) still has its line."""
        self.change(list_price=12)
        self.dispatch()
        other = self.webhook.copy({"url": "https://hooks.example.com/other"})
        Binding = self.env["api.sync.binding"]
        for sink, external in ((self.webhook, "tac_1"), (other, "tac_2")):
            Binding.create({
                "backend_model": sink._name, "backend_id": sink.id,
                "res_model": "product.template", "res_id": self.template.id,
                "external_id": external, "sync_state": "synced",
            })  # fmt: skip
        action = self.template.action_api_sync_status()
        lines = self.env["api.sync.record.status"].browse(action["res_id"]).line_ids
        self.assertEqual(lines.mapped("external_id"), ["tac_1", "tac_2"])
        self.assertEqual(lines.mapped("state"), ["done", False])
        self.assertEqual(lines[1].sink_name, other.display_name)

    def test_status_is_for_sync_users(self):
        seller = new_test_user(self.env, login="seller", groups="base.group_user")
        with self.assertRaises(AccessError):
            self.template.with_user(seller).action_api_sync_status()
        self.assertNotIn(
            "api_sync_status", self.template.with_user(seller).fields_get(["api_sync_status"])
        )

    def test_buttons_on_product_and_pos_order_forms(self):
        for model, view in (
            ("product.template", "api_sync.view_product_template_form_api_sync_status"),
            ("pos.order", "api_sync.view_pos_order_form_api_sync_status"),
        ):
            arch = self.env[model].get_view(self.env.ref(view).inherit_id.id, "form")["arch"]
            self.assertIn('name="action_api_sync_status"', arch)
