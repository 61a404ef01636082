from odoo.tests import new_test_user, tagged

from ..tools import tokens
from .common import ApiSyncHttpCase


@tagged("post_install", "-at_install")
class TestAuthLogin(ApiSyncHttpCase):
    def assertTokenPayload(self, data, user):
        self.assertTrue(tokens.looks_like_jwt(data["access_token"]), data)
        self.assertTrue(data["refresh_token"])
        self.assertNotEqual(data["refresh_token"], data["access_token"])
        self.assertEqual(data["token_type"], "Bearer")
        self.assertIsInstance(data["expires_in"], int)
        self.assertGreater(data["expires_in"], 0)
        self.assertEqual(
            data["user"],
            {
                "id": user.id,
                "name": user.name,
                "email": user.email or None,
                "company": {"id": user.company_id.id, "name": user.company_id.name},
            },
        )

    def test_login_with_password(self):
        response = self.login_attempt({"username": "api_user", "password": "api_user_pw"})
        self.assertEqual(response.status_code, 200, response.text)
        body = response.json()
        self.assertIs(body["success"], True)
        self.assertEqual(response.headers["X-Request-Id"], body["request_id"])
        self.assertTokenPayload(body["data"], self.api_user)
        self.assertEqual(body["data"]["expires_in"], 3600)
        # the access token works, and runs as the user
        me = self.api("GET", "/auth/me", token=body["data"]["access_token"])
        self.assertEqual(me.status_code, 200, me.text)
        self.assertEqual(me.json()["data"]["user"]["id"], self.api_user.id)
        # a session (token family) is recorded, the refresh token is only stored hashed
        session = self.env["api.sync.session"].search([("user_id", "=", self.api_user.id)])
        self.assertEqual(len(session), 1)
        self.assertEqual(session.auth_method, "password")
        self.assertEqual(session.state, "active")
        self.assertEqual(
            session.refresh_token_ids.token_hash, tokens.hash_secret(body["data"]["refresh_token"])
        )

    def test_login_with_api_key_as_password(self):
        data = self.login(username="api_user", password=self.api_key)
        self.assertTokenPayload(data, self.api_user)

    def test_login_with_client_credentials(self):
        self.client.token_lifetime = 600
        data = self.login(client_id=self.client.identifier, client_secret=self.client_secret)
        self.assertTokenPayload(data, self.client_user)
        self.assertEqual(data["expires_in"], 600)
        session = self.env["api.sync.session"].search([("client_id", "=", self.client.id)])
        self.assertEqual(len(session), 1)
        self.assertEqual(session.auth_method, "client")
        self.assertEqual(session.user_id, self.client_user)
        me = self.api("GET", "/auth/me", token=data["access_token"]).json()["data"]
        self.assertEqual(me["client"], {"id": self.client.identifier, "name": self.client.name})

    def test_login_token_lifetime_setting(self):
        self.env["ir.config_parameter"].set_param("api_sync.token_lifetime", "120")
        self.assertEqual(self.login()["expires_in"], 120)

    def test_wrong_password(self):
        response = self.login_attempt({"username": "api_user", "password": "nope"})
        error = self.assertApiError(response, 401, "AUTHENTICATION_ERROR")
        self.assertNotIn("access_token", response.text)
        self.assertIn("WWW-Authenticate", response.headers)
        self.assertIn("Invalid", error["message"])
        self.assertFalse(self.env["api.sync.session"].search([("user_id", "=", self.api_user.id)]))

    def test_unknown_user(self):
        response = self.login_attempt({"username": "nobody", "password": "x"})
        self.assertApiError(response, 401, "AUTHENTICATION_ERROR")

    def test_archived_user(self):
        self.api_user.active = False
        response = self.login_attempt({"username": "api_user", "password": "api_user_pw"})
        self.assertApiError(response, 401, "AUTHENTICATION_ERROR")

    def test_wrong_client_secret(self):
        response = self.login_attempt(
            {"client_id": self.client.identifier, "client_secret": "cs_wrong"}
        )
        self.assertApiError(response, 401, "AUTHENTICATION_ERROR")
        self.assertFalse(self.env["api.sync.session"].search([("client_id", "=", self.client.id)]))

    def test_unknown_client(self):
        response = self.login_attempt(
            {"client_id": "cl_unknown", "client_secret": self.client_secret}
        )
        self.assertApiError(response, 401, "AUTHENTICATION_ERROR")

    def test_archived_client_cannot_log_in(self):
        self.client.active = False
        response = self.login_attempt(
            {"client_id": self.client.identifier, "client_secret": self.client_secret}
        )
        self.assertApiError(response, 401, "AUTHENTICATION_ERROR")

    def test_rotated_client_secret(self):
        """After a rotation the old secret is refused and the new one works."""
        new_secret = self.client._generate_secret()
        response = self.login_attempt(
            {"client_id": self.client.identifier, "client_secret": self.client_secret}
        )
        self.assertApiError(response, 401, "AUTHENTICATION_ERROR")
        self.assertTrue(self.login(client_id=self.client.identifier, client_secret=new_secret))

    def test_user_without_api_group_is_refused(self):
        new_test_user(
            self.env, login="plain_user", password="plain_user_pw", groups="base.group_user"
        )
        response = self.login_attempt({"username": "plain_user", "password": "plain_user_pw"})
        # the same answer as a wrong password (issue #7: no login oracle)
        self.assertApiError(response, 401, "AUTHENTICATION_ERROR")
        self.assertNotIn("access_token", response.text)

    def test_missing_credentials(self):
        for body in (
            {},
            {"username": "api_user"},
            {"password": "api_user_pw"},
            {"client_id": self.client.identifier},
            {"username": "", "password": ""},
        ):
            with self.subTest(body=body):
                response = self.login_attempt(body)
                self.assertApiError(response, 400, "VALIDATION_ERROR")

    def test_credentials_of_the_wrong_type(self):
        response = self.login_attempt({"username": ["api_user"], "password": 1})
        self.assertApiError(response, 400, "VALIDATION_ERROR")

    def test_login_body_must_be_an_object(self):
        response = self.login_attempt(["api_user", "api_user_pw"])
        self.assertApiError(response, 400, "VALIDATION_ERROR")

    def test_login_needs_post(self):
        response = self.api("GET", "/auth/login", token=False)
        self.assertGreaterEqual(response.status_code, 400)
        self.assertNotEqual(response.status_code, 500)
        self.assertNotIn("access_token", response.text)
