import datetime
import json

from odoo import fields
from odoo.tests import tagged

from .common import ApiSyncHttpCase


@tagged("post_install", "-at_install")
class TestRequestLog(ApiSyncHttpCase):
    def log_of(self, response):
        request_id = response.headers["X-Request-Id"]
        log = self.env["api.sync.request.log"].search([("request_id", "=", request_id)])
        self.assertEqual(len(log), 1, f"exactly one log entry for {request_id}")
        return log

    def age(self, log, days):
        """Move the entry ``days`` back in time (create_date is not writable with the ORM)."""
        self.env.cr.execute(
            "UPDATE api_sync_request_log SET create_date = %s WHERE id = %s",
            [fields.Datetime.now() - datetime.timedelta(days=days), log.id],
        )
        log.invalidate_recordset(["create_date"])

    def test_successful_call_is_logged(self):
        partner = self.env["res.partner"].create({"name": "Logged Partner"})
        token = self.client_token()
        response = self.api("GET", f"/res.partner/{partner.id}", token=token)
        self.assertEqual(response.status_code, 200, response.text)
        log = self.log_of(response)
        self.assertEqual(log.request_id, response.json()["request_id"])
        self.assertEqual(log.client_id, self.client)
        self.assertEqual(log.user_id, self.client_user)
        self.assertEqual(log.method, "GET")
        self.assertEqual(log.path, f"/api/sync/v1/res.partner/{partner.id}")
        self.assertEqual(log.model, "res.partner")
        self.assertEqual(log.status, 200)
        self.assertEqual(log.status_class, "2xx")
        self.assertFalse(log.error_code)
        self.assertGreaterEqual(log.duration_ms, 0)
        self.assertEqual(log.remote_addr, "127.0.0.1")
        self.assertTrue(log.create_date)
        # no bodies by default
        self.assertFalse(log.request_body)
        self.assertFalse(log.response_body)

    def test_create_with_an_api_key_is_logged(self):
        response = self.api("POST", "/res.partner", json={"data": {"name": "Posted"}})
        self.assertEqual(response.status_code, 201, response.text)
        log = self.log_of(response)
        self.assertEqual((log.method, log.status, log.model), ("POST", 201, "res.partner"))
        self.assertEqual(log.user_id, self.api_user)
        self.assertFalse(log.client_id)
        self.assertFalse(log.request_body)

    def test_error_call_is_logged_despite_the_rollback(self):
        count = self.env["res.partner"].search_count([])
        response = self.api(
            "POST",
            "/res.partner",
            json={"data": {"name": "Rolled Back"}, "options": {"return_fields": ["no_such_field"]}},
        )
        self.assertApiError(response, 400, "VALIDATION_ERROR")
        self.assertEqual(self.env["res.partner"].search_count([]), count)
        log = self.log_of(response)
        self.assertEqual(log.status, 400)
        self.assertEqual(log.status_class, "4xx")
        self.assertEqual(log.error_code, "VALIDATION_ERROR")
        self.assertEqual(log.model, "res.partner")
        self.assertEqual(log.user_id, self.api_user)

    def test_refused_calls_are_logged(self):
        cases = [
            (self.api("GET", "/res.partner", token="garbage"), 401, "AUTHENTICATION_ERROR"),
            (self.api("GET", "/ir.config_parameter"), 403, "PERMISSION_DENIED"),
            (self.api("GET", "/res.nothing"), 404, "NOT_FOUND"),
            (self.api("GET", "/no/such/endpoint/here"), 404, "NOT_FOUND"),
        ]
        for response, status, code in cases:
            with self.subTest(path=response.request.path_url):
                self.assertApiError(response, status, code)
                log = self.log_of(response)
                self.assertEqual((log.status, log.error_code), (status, code))
        self.assertFalse(self.log_of(cases[0][0]).user_id, "no identity for a refused token")
        self.assertEqual(self.log_of(cases[1][0]).model, "ir.config_parameter")

    def test_login_and_ping_are_logged_without_secrets(self):
        self.client.log_bodies = True
        ping = self.api("GET", "/ping", token=False)
        self.assertEqual(self.log_of(ping).status, 200)
        login = self.login_attempt(
            {"client_id": self.client.identifier, "client_secret": self.client_secret}
        )
        self.assertEqual(login.status_code, 200, login.text)
        log = self.log_of(login)
        self.assertEqual(log.path, "/api/sync/v1/auth/login")
        self.assertNotIn(self.client_secret, log.request_body or "")
        self.assertNotIn(login.json()["data"]["refresh_token"], log.response_body or "")
        bad = self.login_attempt({"username": "api_user", "password": "wrong_pw"})
        log = self.log_of(bad)
        self.assertEqual((log.status, log.error_code), (401, "AUTHENTICATION_ERROR"))
        self.assertNotIn("wrong_pw", log.request_body or "")

    def test_bodies_are_kept_when_the_client_asks(self):
        self.client.log_bodies = True
        token = self.client_token()
        response = self.api(
            "POST", "/res.partner", json={"data": {"name": "Body Kept"}}, token=token
        )
        self.assertEqual(response.status_code, 201, response.text)
        log = self.log_of(response)
        self.assertEqual(json.loads(log.request_body), {"data": {"name": "Body Kept"}})
        self.assertEqual(json.loads(log.response_body), response.json())
        # also for errors
        response = self.api("POST", "/res.partner", json={"data": {"nope": 1}}, token=token)
        self.assertApiError(response, 400, "VALIDATION_ERROR")
        log = self.log_of(response)
        self.assertEqual(json.loads(log.request_body), {"data": {"nope": 1}})
        self.assertEqual(json.loads(log.response_body)["error"]["code"], "VALIDATION_ERROR")

    def test_bodies_are_not_kept_for_other_clients(self):
        token = self.client_token()
        response = self.api(
            "POST", "/res.partner", json={"data": {"name": "Body Dropped"}}, token=token
        )
        self.assertEqual(response.status_code, 201, response.text)
        log = self.log_of(response)
        self.assertFalse(log.request_body)
        self.assertFalse(log.response_body)

    def test_retention_cron_purges_old_entries(self):
        Log = self.env["api.sync.request.log"]
        old, recent = (self.log_of(self.api("GET", "/auth/verify")) for _i in range(2))
        fresh = self.log_of(self.api("GET", "/auth/verify"))
        self.age(old, 31)
        self.age(recent, 29)
        Log._cron_purge()
        self.assertFalse(old.exists())
        self.assertTrue(recent.exists())
        self.assertTrue(fresh.exists())

        # the retention is configurable
        self.env["ir.config_parameter"].set_param("api_sync.log_retention_days", "7")
        Log._cron_purge()
        self.assertFalse(recent.exists())
        self.assertTrue(fresh.exists())

    def test_retention_cron_is_scheduled(self):
        cron = self.env.ref("api_sync.ir_cron_purge_request_log")
        self.assertTrue(cron.active)
        self.assertIn("_cron_purge", cron.code)
        self.assertEqual(cron.model_id.model, "api.sync.request.log")
        old = self.log_of(self.api("GET", "/auth/verify"))
        self.age(old, 60)
        # run the cron's code as the scheduler would (the scheduler itself commits, a test cannot)
        cron.ir_actions_server_id.with_user(cron.user_id).run()
        self.assertFalse(old.exists())
