import time

from odoo.tests import new_test_user, tagged

from .common import ApiSyncHttpCase


def start_in_fresh_window(window, margin=8):
    """Wait for the next fixed window when the current one is about to end.

    The limits are counted in fixed windows; a test that spends a few calls must not straddle two
    windows, or the counter would restart half-way.
    """
    left = window - time.time() % window
    if left < margin:
        time.sleep(left + 0.5)


@tagged("post_install", "-at_install")
class TestRateLimit(ApiSyncHttpCase):
    def limit_client(self, per_minute, per_hour):
        self.client.write({"rate_limit_minute": per_minute, "rate_limit_hour": per_hour})

    def test_headers_on_each_authenticated_response(self):
        self.limit_client(100, 1000)
        token = self.client_token()
        start_in_fresh_window(60)
        start_in_fresh_window(3600)
        remaining = []
        for path in ("/auth/verify", "/res.partner", "/res.country/search"):
            response = self.api("GET", path, token=token)
            self.assertEqual(response.status_code, 200, response.text)
            self.assertEqual(response.headers["X-RateLimit-Limit"], "1000")
            reset = int(response.headers["X-RateLimit-Reset"])
            self.assertGreater(reset, time.time() - 5)
            self.assertLessEqual(reset, time.time() + 3600 + 5)
            remaining.append(int(response.headers["X-RateLimit-Remaining"]))
        self.assertEqual(remaining, [999, 998, 997])
        # errors of an authenticated call carry them too
        response = self.api("GET", "/res.nothing", token=token)
        self.assertApiError(response, 404, "NOT_FOUND")
        self.assertEqual(response.headers["X-RateLimit-Remaining"], "996")

    def exhaust(self, path, window, prefix):
        """Spend a limit of 3 calls of ``window`` seconds; returns the token and the 429."""
        token = self.client_token()
        start_in_fresh_window(window)
        for expected in (2, 1, 0):
            response = self.api("GET", path, token=token)
            self.assertEqual(response.status_code, 200, response.text)
            self.assertEqual(response.headers[prefix + "Limit"], "3")
            self.assertEqual(response.headers[prefix + "Remaining"], str(expected))
            self.assertIn("X-RateLimit-Limit", response.headers)
        response = self.api("GET", path, token=token)
        error = self.assertApiError(response, 429, "RATE_LIMIT_EXCEEDED")
        self.assertEqual(error["details"]["limit"], 3)
        self.assertEqual(error["details"]["window"], window)
        retry_after = int(response.headers["Retry-After"])
        self.assertTrue(0 < retry_after <= window, retry_after)
        self.assertEqual(response.headers[prefix + "Remaining"], "0")
        self.assertNotIn("data", response.json())
        return token

    def test_per_hour_limit_exhausted(self):
        self.limit_client(100, 3)
        self.exhaust("/res.partner", 3600, "X-RateLimit-")

    def test_burst_limit_per_minute(self):
        self.limit_client(3, 1000)
        token = self.exhaust("/auth/verify", 60, "X-RateLimit-Burst-")
        # still refused, and a refused write changes nothing
        count = self.env["res.partner"].search_count([])
        response = self.api(
            "POST", "/res.partner", json={"data": {"name": "Too Many"}}, token=token
        )
        self.assertApiError(response, 429, "RATE_LIMIT_EXCEEDED")
        self.assertEqual(self.env["res.partner"].search_count([]), count)

    def test_failed_calls_count(self):
        """An error answer (here 404) still spends the budget."""
        self.limit_client(2, 1000)
        token = self.client_token()
        start_in_fresh_window(60)
        self.assertApiError(self.api("GET", "/res.nothing", token=token), 404, "NOT_FOUND")
        self.assertApiError(self.api("GET", "/res.nothing", token=token), 404, "NOT_FOUND")
        self.assertApiError(
            self.api("GET", "/auth/verify", token=token), 429, "RATE_LIMIT_EXCEEDED"
        )

    def test_limits_are_per_client(self):
        self.limit_client(2, 1000)
        other_user = new_test_user(self.env, login="other_client_user", groups="base.group_user")
        other = self.env["api.sync.client"].create(
            {"name": "Other Client", "user_id": other_user.id}
        )
        other_secret = other._generate_secret()
        token = self.client_token()
        other_token = self.login(client_id=other.identifier, client_secret=other_secret)[
            "access_token"
        ]
        start_in_fresh_window(60)
        for _i in range(2):
            self.assertEqual(self.api("GET", "/auth/verify", token=token).status_code, 200)
        self.assertApiError(
            self.api("GET", "/auth/verify", token=token), 429, "RATE_LIMIT_EXCEEDED"
        )
        response = self.api("GET", "/auth/verify", token=other_token)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.headers["X-RateLimit-Burst-Limit"], "100")

    def test_all_tokens_of_a_client_share_its_limit(self):
        self.limit_client(2, 1000)
        first, second = self.client_token(), self.client_token()
        start_in_fresh_window(60)
        self.assertEqual(self.api("GET", "/auth/verify", token=first).status_code, 200)
        self.assertEqual(self.api("GET", "/auth/verify", token=second).status_code, 200)
        self.assertApiError(
            self.api("GET", "/auth/verify", token=first), 429, "RATE_LIMIT_EXCEEDED"
        )
        self.assertApiError(
            self.api("GET", "/auth/verify", token=second), 429, "RATE_LIMIT_EXCEEDED"
        )

    def test_per_user_limits_for_logins_and_api_keys(self):
        ICP = self.env["ir.config_parameter"]
        ICP.set_param("api_sync.rate_limit_minute", "2")
        ICP.set_param("api_sync.rate_limit_hour", "50")
        jwt = self.login()["access_token"]
        start_in_fresh_window(60)
        response = self.api("GET", "/auth/verify")  # API key
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.headers["X-RateLimit-Limit"], "50")
        self.assertEqual(response.headers["X-RateLimit-Burst-Remaining"], "1")
        # the user's JWT and API key share the user's counters
        self.assertEqual(self.api("GET", "/auth/verify", token=jwt).status_code, 200)
        self.assertApiError(self.api("GET", "/auth/verify", token=jwt), 429, "RATE_LIMIT_EXCEEDED")
        self.assertApiError(self.api("GET", "/auth/verify"), 429, "RATE_LIMIT_EXCEEDED")
        # a client (own limits) is not affected
        self.assertEqual(
            self.api("GET", "/auth/verify", token=self.client_token()).status_code, 200
        )

    def test_default_limits(self):
        response = self.api("GET", "/auth/verify", token=self.client_token())
        self.assertEqual(response.headers["X-RateLimit-Limit"], "1000")
        self.assertEqual(response.headers["X-RateLimit-Burst-Limit"], "100")
        response = self.api("GET", "/auth/verify")
        self.assertEqual(response.headers["X-RateLimit-Limit"], "1000")
        self.assertEqual(response.headers["X-RateLimit-Burst-Limit"], "100")

    def test_unauthenticated_endpoints_are_not_counted(self):
        response = self.api("GET", "/ping", token=False)
        self.assertNotIn("X-RateLimit-Limit", response.headers)

    # -- failed logins -------------------------------------------------------------------------
    def test_failed_logins_are_throttled_per_username(self):
        self.env["ir.config_parameter"].set_param("api_sync.login_max_failures", "3")
        start_in_fresh_window(900)
        for _i in range(3):
            response = self.login_attempt({"username": "api_user", "password": "wrong"})
            self.assertApiError(response, 401, "AUTHENTICATION_ERROR")
        # even the right password is refused now
        response = self.login_attempt({"username": "api_user", "password": "api_user_pw"})
        self.assertApiError(response, 429, "RATE_LIMIT_EXCEEDED")
        self.assertGreater(int(response.headers["Retry-After"]), 0)
        self.assertNotIn("access_token", response.text)
        # the username is case-insensitive for the throttle
        response = self.login_attempt({"username": "API_USER", "password": "api_user_pw"})
        self.assertApiError(response, 429, "RATE_LIMIT_EXCEEDED")
        # other users (same IP) can still log in
        self.assertTrue(
            self.login(client_id=self.client.identifier, client_secret=self.client_secret)
        )
        # and the user's existing API key keeps working: only logins are throttled
        self.assertEqual(self.api("GET", "/auth/verify").status_code, 200)

    def test_successful_logins_are_not_throttled(self):
        self.env["ir.config_parameter"].set_param("api_sync.login_max_failures", "3")
        start_in_fresh_window(900)
        for _i in range(5):
            self.assertTrue(self.login()["access_token"])

    def test_failed_client_logins_are_throttled(self):
        self.env["ir.config_parameter"].set_param("api_sync.login_max_failures", "3")
        start_in_fresh_window(900)
        body = {"client_id": self.client.identifier, "client_secret": "cs_wrong"}
        for _i in range(3):
            self.assertApiError(self.login_attempt(body), 401, "AUTHENTICATION_ERROR")
        body["client_secret"] = self.client_secret
        self.assertApiError(self.login_attempt(body), 429, "RATE_LIMIT_EXCEEDED")

    def test_failed_logins_are_throttled_per_ip(self):
        """An address that keeps failing on many usernames is stopped (limit x5 per IP)."""
        self.env["ir.config_parameter"].set_param("api_sync.login_max_failures", "2")
        # Odoo's own (in-memory) login cooldown would answer before ours: leave the job to ours
        self.env["ir.config_parameter"].set_param("base.login_cooldown_after", "0")
        start_in_fresh_window(900)
        for i in range(10):
            response = self.login_attempt({"username": f"guess{i}", "password": "x"})
            self.assertApiError(response, 401, "AUTHENTICATION_ERROR")
        response = self.login_attempt({"username": "api_user", "password": "api_user_pw"})
        self.assertApiError(response, 429, "RATE_LIMIT_EXCEEDED")
