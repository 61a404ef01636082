"""``skip_validation`` from a login without an API client names the real cause (issue #12)."""

from odoo.tests import tagged

from .common import ApiSyncHttpCase


@tagged("post_install", "-at_install")
class TestSkipValidationLogin(ApiSyncHttpCase):
    def test_password_login_is_told_it_has_no_client(self):
        body = {"data": {"name": "Lenient"}, "options": {"skip_validation": True}}
        for token in (self.login()["access_token"], None):  # password login, API key
            response = self.api("POST", "/res.partner", json=body, token=token)
            error = self.assertApiError(response, 403, "PERMISSION_DENIED")
            self.assertIn("no API client", error["message"])
            self.assertNotIn("This client", error["message"])
            self.assertEqual(error["details"], {"option": "skip_validation"})
        self.assertFalse(self.env["res.partner"].search([("name", "=", "Lenient")]))

    def test_client_not_allowed_is_told_so(self):
        body = {"data": {"name": "Lenient"}, "options": {"skip_validation": True}}
        response = self.api("POST", "/res.partner", json=body, token=self.client_token())
        error = self.assertApiError(response, 403, "PERMISSION_DENIED")
        self.assertEqual(error["message"], "This client may not use skip_validation")
