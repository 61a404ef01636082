"""Settings > API Sync (issue #12): each setting written through the Settings form lands in
its system parameter and changes what the addon does."""

import json
from datetime import timedelta

from odoo import fields
from odoo.tests import Form, tagged

from ..tools.settings import DEFAULTS
from .test_rate_limit import start_in_fresh_window
from .webhook_common import WebhookHttpCase


@tagged("post_install", "-at_install")
class TestSettings(WebhookHttpCase):
    def save_settings(self, **values):
        """Fill the Settings form as an administrator would and save it."""
        with Form(self.env["res.config.settings"]) as form:
            for name, value in values.items():
                setattr(form, f"api_sync_{name}", value)
        form.record.execute()
        self.env.invalidate_all()

    def assertStored(self, name, value):
        stored = self.env["ir.config_parameter"].sudo().get_param(f"api_sync.{name}")
        self.assertEqual(stored, str(value) if value is not False else False, name)
        self.assertEqual(self.env["api.sync.auth"]._param(name), value, name)

    def test_every_setting_has_a_field_and_a_default(self):
        Settings = self.env["res.config.settings"]
        for name, default in DEFAULTS.items():
            field = Settings._fields[f"api_sync_{name}"]
            self.assertEqual(field.config_parameter, f"api_sync.{name}")
            self.assertEqual(field.default(Settings), default, name)
        # the settings page shows each of them, with a help text, in five searchable blocks
        arch = self.env.ref("api_sync.view_res_config_settings_form").arch
        for name in DEFAULTS:
            self.assertIn(f'<field name="api_sync_{name}"/>', arch)
        for block in ("API Access", "Limits", "Webhooks", "Logging", "Delivery"):
            self.assertIn(f'<block title="{block}"', arch)
        self.assertEqual(arch.count('<setting id="api_sync_'), len(DEFAULTS) + 2)
        self.assertEqual(arch.count(' help="'), len(DEFAULTS) + 2)

    def test_token_lifetimes(self):
        self.save_settings(token_lifetime=240, refresh_lifetime_days=2)
        self.assertStored("token_lifetime", 240)
        self.assertStored("refresh_lifetime_days", 2)
        data = self.login()
        self.assertEqual(data["expires_in"], 240)
        session = self.env["api.sync.session"].search([("user_id", "=", self.api_user.id)])
        self.assertAlmostEqual(
            session.expires_at,
            fields.Datetime.now() + timedelta(days=2),
            delta=timedelta(minutes=5),
        )

    def test_rate_limits(self):
        self.save_settings(rate_limit_hour=70, rate_limit_minute=2)
        self.assertStored("rate_limit_hour", 70)
        self.assertStored("rate_limit_minute", 2)
        start_in_fresh_window(60)
        response = self.api("GET", "/auth/verify")
        self.assertEqual(response.headers["X-RateLimit-Limit"], "70")
        self.assertEqual(response.headers["X-RateLimit-Burst-Limit"], "2")
        self.assertEqual(self.api("GET", "/auth/verify").status_code, 200)
        self.assertApiError(self.api("GET", "/auth/verify"), 429, "RATE_LIMIT_EXCEEDED")

    def test_failed_login_throttle(self):
        self.save_settings(login_max_failures=2)
        self.assertStored("login_max_failures", 2)
        start_in_fresh_window(900)
        for _i in range(2):
            response = self.login_attempt({"username": "api_user", "password": "wrong"})
            self.assertApiError(response, 401, "AUTHENTICATION_ERROR")
        response = self.login_attempt({"username": "api_user", "password": "api_user_pw"})
        self.assertApiError(response, 429, "RATE_LIMIT_EXCEEDED")

    def test_max_body_size(self):
        self.save_settings(max_body_mb=1)
        self.assertStored("max_body_mb", 1)
        body = json.dumps({"data": {"name": "Big", "comment": "x" * (1024 * 1024 + 10)}})
        response = self.api(
            "POST", "/res.partner", data=body, headers={"Content-Type": "application/json"}
        )
        self.assertApiError(response, 413, "VALIDATION_ERROR")

    def test_search_and_batch_caps(self):
        self.save_settings(search_limit_cap=5, batch_max_operations=2)
        self.assertStored("search_limit_cap", 5)
        self.assertStored("batch_max_operations", 2)
        response = self.api("GET", "/res.partner/search", params={"limit": 6})
        self.assertApiError(response, 400, "VALIDATION_ERROR")
        self.assertEqual(
            self.api("GET", "/res.partner/search", params={"limit": 5}).status_code, 200
        )
        operations = [{"method": "create", "data": {"name": f"P{i}"}} for i in range(3)]
        response = self.api("POST", "/res.partner/batch", json={"operations": operations})
        self.assertApiError(response, 400, "VALIDATION_ERROR")
        response = self.api("POST", "/res.partner/batch", json={"operations": operations[:2]})
        self.assertEqual(response.status_code, 200, response.text)

    def test_webhook_url_policy(self):
        self.save_settings(webhook_allow_http=False, webhook_allow_private_networks=False)
        self.assertStored("webhook_allow_http", False)
        self.assertStored("webhook_allow_private_networks", False)
        response = self.api("POST", "/webhooks", json=self.spec_body())
        self.assertApiError(response, 400, "VALIDATION_ERROR", field="url")
        self.save_settings(webhook_allow_http=True)
        self.assertStored("webhook_allow_http", True)
        response = self.api("POST", "/webhooks", json=self.spec_body())
        self.assertApiError(response, 400, "VALIDATION_ERROR", field="url")  # 127.0.0.1
        self.save_settings(webhook_allow_private_networks=True)
        self.assertStored("webhook_allow_private_networks", True)
        self.register()

    def test_attempts_before_dead_letter(self):
        self.save_settings(delivery_max_attempts=2)
        self.assertStored("delivery_max_attempts", 2)
        webhook, _result = self.register()
        self.create_partner()
        self.receiver.answer(500, 500)
        self.dispatch()
        [delivery] = self.deliveries_of(webhook)
        self.assertEqual((delivery.state, delivery.attempts), ("retry", 1))
        self.make_due(delivery)
        self.dispatch()
        self.assertEqual((delivery.state, delivery.attempts), ("dead", 2))

    def test_disable_failing_webhooks_after(self):
        self.save_settings(webhook_disable_after_days=1)
        self.assertStored("webhook_disable_after_days", 1)
        webhook, _result = self.register()
        webhook.failing_since = fields.Datetime.now() - timedelta(hours=20)
        webhook._sink_failed("still failing")
        self.assertEqual(webhook.state, "active")
        webhook.failing_since = fields.Datetime.now() - timedelta(hours=25)
        webhook._sink_failed("still failing")
        self.assertEqual(webhook.state, "disabled")

    def test_retention(self):
        self.save_settings(log_retention_days=3, delivery_retention_days=4)
        self.assertStored("log_retention_days", 3)
        self.assertStored("delivery_retention_days", 4)
        Log = self.env["api.sync.request.log"]
        response = self.api("GET", "/auth/verify")
        log = Log.search([("request_id", "=", response.json()["request_id"])])
        self.assertTrue(log)
        self.env.cr.execute(
            "UPDATE api_sync_request_log SET create_date = %s WHERE id = %s",
            (fields.Datetime.now() - timedelta(days=4), log.id),
        )
        Log.invalidate_model()
        Log._cron_purge()
        self.assertFalse(log.exists())

        webhook, _result = self.register()
        self.create_partner()
        self.dispatch()
        [delivery] = self.deliveries_of(webhook)
        self.assertEqual(delivery.state, "done")
        delivery.delivered_at = fields.Datetime.now() - timedelta(days=3)
        self.Delivery._gc_delivered()
        self.assertTrue(delivery.exists())
        delivery.delivered_at = fields.Datetime.now() - timedelta(days=5)
        self.Delivery._gc_delivered()
        self.assertFalse(delivery.exists())
