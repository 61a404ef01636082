from odoo import release
from odoo.tests import tagged

from .common import ApiSyncHttpCase


@tagged("post_install", "-at_install")
class TestPing(ApiSyncHttpCase):
    def test_ping_needs_no_authentication(self):
        response = self.api("GET", "/ping", token=False)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.headers["Content-Type"].split(";")[0], "application/json")
        body = response.json()
        self.assertIs(body["success"], True)
        self.assertEqual(
            body["data"],
            {"status": "ok", "version": release.version, "database": self.env.cr.dbname},
        )
        self.assertTrue(body["request_id"].startswith("req_"))
        self.assertEqual(response.headers["X-Request-Id"], body["request_id"])
        self.assertNotIn("Set-Cookie", response.headers)

    def test_ping_ignores_a_bad_token(self):
        """Ping is a health check: an invalid token does not make it fail."""
        response = self.api("GET", "/ping", token="garbage")
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json()["data"]["status"], "ok")

    def test_each_call_gets_its_own_request_id(self):
        ids = {self.api("GET", "/ping", token=False).json()["request_id"] for _i in range(3)}
        self.assertEqual(len(ids), 3)
