"""The API client form (issue #12): a client id that never changes, a model picker that finds
models by technical and display name."""

from odoo.exceptions import UserError
from odoo.tests import Form, TransactionCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestClientForm(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.run_as = new_test_user(cls.env, login="form_run_as", groups="base.group_user")

    def test_client_id_shown_before_saving_is_the_one_stored(self):
        form = Form(self.env["api.sync.client"])
        shown = form.identifier
        self.assertRegex(shown, r"^cl_\S{12,}$")
        form.name = "Shop connector"
        form.user_id = self.run_as
        client = form.save()
        self.assertEqual(client.identifier, shown)
        # saving again (a later edit) keeps it
        with Form(client) as again:
            again.rate_limit_minute = 10
        self.assertEqual(client.identifier, shown)

    def test_client_id_never_changes(self):
        client = self.env["api.sync.client"].create({"name": "C", "user_id": self.run_as.id})
        client.write({"identifier": client.identifier})  # the same value: accepted
        with self.assertRaises(UserError):
            client.write({"identifier": "cl_another"})
        self.assertTrue(client.identifier.startswith("cl_"))
        self.assertNotEqual(client.copy().identifier, client.identifier)

    def test_model_picker_finds_technical_names_first(self):
        Model = self.env["ir.model"].with_context(api_sync_model_picker=True)
        partner = self.env["ir.model"]._get("res.partner")
        results = Model.name_search("res.partner", limit=8)
        self.assertEqual(results[0], (partner.id, f"{partner.name} (res.partner)"))
        self.assertTrue(all(name.endswith(")") for _id, name in results))
        # the other results also start with res.partner (res.partner.bank, ...)
        others = self.env["ir.model"].browse([model_id for model_id, _name in results[1:]])
        self.assertTrue(others)
        self.assertTrue(all(m.model.startswith("res.partner") for m in others[:2]))
        # a display name finds it as well
        by_label = Model.name_search(partner.name, limit=100)
        self.assertIn(partner.id, [model_id for model_id, _name in by_label])

    def test_model_picker_outside_the_form_is_odoo_s(self):
        partner = self.env["ir.model"]._get("res.partner")
        self.assertEqual(partner.display_name, partner.name)
        self.assertEqual(
            self.env["ir.model"].name_search("res.partner", limit=100),
            self.env["ir.model"]
            .with_context(api_sync_model_picker=False)
            .name_search("res.partner", limit=100),
        )

    def test_picker_in_the_client_form(self):
        """The form's rule line gives the picker its context and shows the technical name."""
        arch = self.env.ref("api_sync.view_api_sync_client_form").arch
        self.assertIn("'api_sync_model_picker': True", arch)
        form = Form(self.env["api.sync.client"])
        form.name = "Picker"
        form.user_id = self.run_as
        with form.rule_ids.new() as line:
            line.model_id = self.env["ir.model"]._get("res.partner")
            self.assertEqual(line.model, "res.partner")
        client = form.save()
        self.assertEqual(client.rule_ids.model, "res.partner")
