from odoo.tests import tagged

from .common import ApiSyncHttpCase


@tagged("post_install", "-at_install")
class TestAuthRefresh(ApiSyncHttpCase):
    def refresh(self, refresh_token):
        return self.api("POST", "/auth/refresh", json={"refresh_token": refresh_token}, token=False)

    def assertTokenWorks(self, access_token):
        response = self.api("GET", "/auth/verify", token=access_token)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertIs(response.json()["data"]["valid"], True)

    def assertTokenRefused(self, access_token):
        self.assertApiError(
            self.api("GET", "/auth/verify", token=access_token), 401, "AUTHENTICATION_ERROR"
        )

    def test_refresh_rotates_the_pair(self):
        first = self.login()
        response = self.refresh(first["refresh_token"])
        self.assertEqual(response.status_code, 200, response.text)
        body = response.json()
        self.assertIs(body["success"], True)
        second = body["data"]
        self.assertEqual(second["token_type"], "Bearer")
        self.assertEqual(second["user"]["id"], self.api_user.id)
        self.assertNotEqual(second["refresh_token"], first["refresh_token"])
        self.assertNotEqual(second["access_token"], first["access_token"])
        self.assertTokenWorks(second["access_token"])
        # the new refresh token can be used in turn: the chain goes on in the same session
        third = self.refresh(second["refresh_token"])
        self.assertEqual(third.status_code, 200, third.text)
        self.assertTokenWorks(third.json()["data"]["access_token"])
        session = self.env["api.sync.session"].search([("user_id", "=", self.api_user.id)])
        self.assertEqual(len(session), 1)
        self.assertEqual(len(session.refresh_token_ids), 3)
        self.assertEqual(len(session.refresh_token_ids.filtered("spent_at")), 2)
        self.assertTrue(session.last_refresh_at)

    def test_refresh_of_a_client_session_keeps_its_lifetime(self):
        self.client.token_lifetime = 900
        first = self.login(client_id=self.client.identifier, client_secret=self.client_secret)
        response = self.refresh(first["refresh_token"])
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json()["data"]["expires_in"], 900)
        self.assertEqual(response.json()["data"]["user"]["id"], self.client_user.id)

    def test_reusing_a_spent_refresh_token_revokes_the_family(self):
        first = self.login()
        response = self.refresh(first["refresh_token"])
        self.assertEqual(response.status_code, 200, response.text)
        second = response.json()["data"]
        self.assertTokenWorks(second["access_token"])

        # replay of the spent token (stolen token scenario)
        error = self.assertApiError(
            self.refresh(first["refresh_token"]), 401, "AUTHENTICATION_ERROR"
        )
        self.assertNotIn("access_token", error)

        # the whole family is revoked: the legitimate holder's new tokens die too
        self.assertTokenRefused(second["access_token"])
        self.assertTokenRefused(first["access_token"])
        self.assertApiError(self.refresh(second["refresh_token"]), 401, "AUTHENTICATION_ERROR")
        session = self.env["api.sync.session"].search([("user_id", "=", self.api_user.id)])
        self.assertEqual(session.state, "revoked")
        self.assertTrue(session.revoke_reason)

    def test_reuse_does_not_touch_other_sessions(self):
        victim = self.login()
        other = self.login()
        self.assertEqual(self.refresh(victim["refresh_token"]).status_code, 200)
        self.assertApiError(self.refresh(victim["refresh_token"]), 401, "AUTHENTICATION_ERROR")
        self.assertTokenWorks(other["access_token"])
        self.assertEqual(self.refresh(other["refresh_token"]).status_code, 200)

    def test_invalid_refresh_token(self):
        self.assertApiError(self.refresh("rt_garbage"), 401, "AUTHENTICATION_ERROR")

    def test_access_token_is_not_a_refresh_token(self):
        first = self.login()
        self.assertApiError(self.refresh(first["access_token"]), 401, "AUTHENTICATION_ERROR")
        self.assertTokenWorks(first["access_token"])

    def test_missing_refresh_token(self):
        response = self.api("POST", "/auth/refresh", json={}, token=False)
        self.assertApiError(response, 400, "VALIDATION_ERROR", field="refresh_token")
        response = self.api("POST", "/auth/refresh", json={"refresh_token": 42}, token=False)
        self.assertApiError(response, 400, "VALIDATION_ERROR", field="refresh_token")

    def test_refresh_after_logout(self):
        first = self.login()
        logout = self.api("POST", "/auth/logout", token=first["access_token"])
        self.assertEqual(logout.status_code, 200, logout.text)
        self.assertApiError(self.refresh(first["refresh_token"]), 401, "AUTHENTICATION_ERROR")

    def test_refresh_of_an_expired_session(self):
        first = self.login()
        session = self.env["api.sync.session"].search([("user_id", "=", self.api_user.id)])
        session.expires_at = "2000-01-01 00:00:00"
        self.assertApiError(self.refresh(first["refresh_token"]), 401, "AUTHENTICATION_ERROR")

    def test_refresh_with_a_disabled_client(self):
        first = self.login(client_id=self.client.identifier, client_secret=self.client_secret)
        self.client.active = False
        self.assertApiError(self.refresh(first["refresh_token"]), 401, "AUTHENTICATION_ERROR")

    def test_refresh_for_an_archived_user(self):
        first = self.login()
        self.api_user.active = False
        self.assertApiError(self.refresh(first["refresh_token"]), 401, "AUTHENTICATION_ERROR")
