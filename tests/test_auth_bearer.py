import calendar
import time

from odoo.tests import new_test_user, tagged

from ..tools import tokens
from .common import ApiSyncHttpCase


@tagged("post_install", "-at_install")
class TestAuthBearer(ApiSyncHttpCase):
    def session_of(self, user):
        return self.env["api.sync.session"].search([("user_id", "=", user.id)], limit=1)

    def make_token(self, session, key=None, database=None, uid=None, **kwargs):
        token, _exp = tokens.encode_access_token(
            key or self.env["api.sync.auth"]._signing_key(),
            uid=uid or session.user_id.id,
            session_id=session.id,
            database=database or self.env.cr.dbname,
            **{"lifetime": 3600, **kwargs},
        )
        return token

    def assertRefused(self, response, code="AUTHENTICATION_ERROR", status=401):
        error = self.assertApiError(response, status, code)
        self.assertNotIn("data", response.json())
        if status == 401:
            self.assertIn("Bearer", response.headers.get("WWW-Authenticate", ""))
        return error

    # -- accepted tokens -----------------------------------------------------------------------
    def test_jwt_is_accepted(self):
        data = self.login()
        response = self.api("GET", "/auth/verify", token=data["access_token"])
        self.assertEqual(response.status_code, 200, response.text)
        body = response.json()
        self.assertIs(body["success"], True)
        self.assertIs(body["data"]["valid"], True)
        self.assertEqual(body["data"]["user_id"], self.api_user.id)
        self.assertEqual(body["data"]["auth_method"], "jwt")
        expires_at = body["data"]["expires_at"]
        self.assertRegex(expires_at, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        epoch = calendar.timegm(time.strptime(expires_at, "%Y-%m-%dT%H:%M:%SZ"))
        # the token's own expiry, not a fixed value (generous margin: no timing assertion)
        self.assertAlmostEqual(epoch, time.time() + data["expires_in"], delta=600)

    def test_api_key_is_accepted(self):
        response = self.api("GET", "/auth/verify")  # the helper sends the user's Odoo API key
        self.assertEqual(response.status_code, 200, response.text)
        data = response.json()["data"]
        self.assertIs(data["valid"], True)
        self.assertEqual(data["user_id"], self.api_user.id)
        self.assertEqual(data["auth_method"], "api_key")
        self.assertIsNone(data["expires_at"])

    def test_api_key_with_api_sync_scope_is_accepted(self):
        key = (
            self.env["res.users.apikeys"]
            .with_user(self.api_user)
            .sudo()
            ._generate("api_sync", "scoped", None)
        )
        response = self.api("GET", "/auth/me", token=key)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json()["data"]["user"]["id"], self.api_user.id)

    def test_api_key_with_another_scope_is_refused(self):
        key = (
            self.env["res.users.apikeys"]
            .with_user(self.api_user)
            .sudo()
            ._generate("other", "scoped", None)
        )
        self.assertRefused(self.api("GET", "/auth/me", token=key))

    def test_bearer_scheme_is_case_insensitive(self):
        response = self.api(
            "GET", "/auth/verify", headers={"Authorization": f"bearer {self.api_key}"}
        )
        self.assertEqual(response.status_code, 200, response.text)

    def test_api_key_calls_run_as_the_user(self):
        """Data calls made with an API key run as its user (no sudo)."""
        partner = self.env["res.partner"].create({"name": "Bearer Partner"})
        response = self.api(
            "GET", f"/res.partner/{partner.id}", params={"fields": "name,create_uid"}
        )
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json()["data"]["name"], "Bearer Partner")
        created = self.api("POST", "/res.partner", json={"data": {"name": "Made By Key"}})
        self.assertEqual(created.status_code, 201, created.text)
        record = self.env["res.partner"].browse(created.json()["id"])
        self.assertEqual(record.create_uid, self.api_user)

    # -- /auth/me --------------------------------------------------------------------------------
    def test_me_with_a_user_token(self):
        response = self.api("GET", "/auth/me", token=self.login()["access_token"])
        self.assertEqual(response.status_code, 200, response.text)
        data = response.json()["data"]
        self.assertEqual(data["user"]["id"], self.api_user.id)
        self.assertEqual(data["user"]["name"], "API User")
        self.assertEqual(data["user"]["email"], "api_user@example.com")
        self.assertEqual(
            data["user"]["company"], {"id": self.company.id, "name": self.company.name}
        )
        self.assertIn({"id": self.company.id, "name": self.company.name}, data["companies"])
        self.assertIsNone(data["client"])
        self.assertEqual(data["auth_method"], "jwt")
        self.assertEqual(data["allowed_models"], {"*": ["read", "create", "write", "delete"]})

    def test_me_with_a_client_token(self):
        response = self.api("GET", "/auth/me", token=self.client_token())
        self.assertEqual(response.status_code, 200, response.text)
        data = response.json()["data"]
        self.assertEqual(data["user"]["id"], self.client_user.id)
        self.assertEqual(data["client"], {"id": self.client.identifier, "name": "Test Client"})
        self.assertEqual(
            data["allowed_models"],
            {"res.partner": ["read", "create", "write", "delete"], "res.country": ["read"]},
        )

    def test_me_with_an_api_key(self):
        response = self.api("GET", "/auth/me")
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json()["data"]["auth_method"], "api_key")
        self.assertEqual(response.json()["data"]["user"]["id"], self.api_user.id)

    # -- refused tokens --------------------------------------------------------------------------
    def test_missing_token(self):
        for path in ("/auth/me", "/auth/verify", "/res.partner"):
            with self.subTest(path=path):
                self.assertRefused(self.api("GET", path, token=False))
        self.assertRefused(self.api("POST", "/auth/logout", token=False))

    def test_garbage_token(self):
        for token in ("garbage", "eyJ.garbage.token", "eyJhbGciOiJIUzI1NiJ9.e30.", "0" * 40):
            with self.subTest(token=token):
                self.assertRefused(self.api("GET", "/auth/verify", token=token))

    def test_malformed_authorization_header(self):
        for header in (
            "Bearer",
            "Bearer ",
            f"Basic {self.api_key}",
            self.api_key,
            f"Token {self.api_key}",
        ):
            with self.subTest(header=header):
                self.assertRefused(
                    self.api("GET", "/auth/verify", headers={"Authorization": header})
                )

    def test_expired_token(self):
        self.login()
        session = self.session_of(self.api_user)
        expired = self.make_token(session, lifetime=-10)
        self.assertRefused(self.api("GET", "/auth/verify", token=expired))
        old = self.make_token(session, now=time.time() - 7200)
        error = self.assertRefused(self.api("GET", "/auth/verify", token=old))
        self.assertIn("expired", error["message"].lower())
        # the same session still accepts a fresh token: only the expiry was wrong
        self.assertEqual(
            self.api("GET", "/auth/verify", token=self.make_token(session)).status_code, 200
        )

    def test_token_signed_with_another_key(self):
        self.login()
        forged = self.make_token(self.session_of(self.api_user), key=tokens.new_secret())
        self.assertRefused(self.api("GET", "/auth/verify", token=forged))

    def test_token_of_another_database(self):
        self.login()
        token = self.make_token(self.session_of(self.api_user), database="other_db")
        self.assertRefused(self.api("GET", "/auth/verify", token=token))

    def test_token_of_an_unknown_session(self):
        self.login()
        session = self.session_of(self.api_user)
        ghost = self.env["api.sync.session"].browse(session.id + 1000)
        self.assertRefused(
            self.api("GET", "/auth/verify", token=self.make_token(ghost, uid=self.api_user.id))
        )

    def test_token_claiming_another_user(self):
        """A token's subject must be its session's user."""
        self.login()
        session = self.session_of(self.api_user)
        token = self.make_token(session, uid=self.client_user.id)
        self.assertRefused(self.api("GET", "/auth/verify", token=token))

    def test_logout_revokes_the_session(self):
        data = self.login()
        other = self.login()
        response = self.api("POST", "/auth/logout", token=data["access_token"])
        self.assertEqual(response.status_code, 200, response.text)
        self.assertIs(response.json()["success"], True)
        self.assertTrue(response.json()["message"])
        self.assertRefused(self.api("GET", "/auth/verify", token=data["access_token"]))
        self.assertRefused(self.api("POST", "/auth/logout", token=data["access_token"]))
        # other logins of the same user are separate sessions
        self.assertEqual(
            self.api("GET", "/auth/verify", token=other["access_token"]).status_code, 200
        )

    def test_logout_with_an_api_key_keeps_the_key(self):
        """An API key has no session to log out: the call fails and the key keeps working."""
        response = self.api("POST", "/auth/logout")
        self.assertGreaterEqual(response.status_code, 400, response.text)
        self.assertIs(response.json()["success"], False)
        self.assertEqual(self.api("GET", "/auth/verify").status_code, 200)

    def test_revoked_by_a_manager(self):
        data = self.login(client_id=self.client.identifier, client_secret=self.client_secret)
        self.client.action_revoke_tokens()
        self.assertRefused(self.api("GET", "/auth/verify", token=data["access_token"]))

    def test_removed_api_key(self):
        self.env["res.users.apikeys"].search([("user_id", "=", self.api_user.id)]).sudo()._remove()
        self.assertRefused(self.api("GET", "/auth/verify"))

    def test_disabled_client(self):
        token = self.client_token()
        self.assertEqual(self.api("GET", "/res.partner", token=token).status_code, 200)
        self.client.active = False
        self.assertRefused(self.api("GET", "/res.partner", token=token))
        self.assertRefused(self.api("GET", "/auth/verify", token=token))

    def test_disabled_client_even_with_a_live_session(self):
        """Archiving the client with SQL (no ORM hook) still refuses its tokens."""
        token = self.client_token()
        self.env.cr.execute(
            "UPDATE api_sync_client SET active = false WHERE id = %s", [self.client.id]
        )
        self.assertRefused(self.api("GET", "/auth/verify", token=token))

    def test_archived_user(self):
        token = self.login()["access_token"]
        self.api_user.active = False
        self.assertRefused(self.api("GET", "/auth/verify", token=token))
        self.assertRefused(self.api("GET", "/auth/verify"))  # its API key too

    def test_api_key_of_a_user_without_the_api_group(self):
        user = new_test_user(self.env, login="plain_user", groups="base.group_user")
        key = self.env["res.users.apikeys"].with_user(user).sudo()._generate(None, "plain", None)
        self.assertRefused(self.api("GET", "/auth/me", token=key), "PERMISSION_DENIED", 403)

    def test_signing_key_rotation_invalidates_tokens(self):
        user_data = self.login()
        client_token = self.client_token()
        self.env["api.sync.auth"]._rotate_signing_key()
        self.assertRefused(self.api("GET", "/auth/verify", token=user_data["access_token"]))
        self.assertRefused(self.api("GET", "/auth/verify", token=client_token))
        # refresh tokens of the old key's sessions are revoked as well
        refresh = self.api(
            "POST", "/auth/refresh", json={"refresh_token": user_data["refresh_token"]}, token=False
        )
        self.assertApiError(refresh, 401, "AUTHENTICATION_ERROR")
        # API keys do not depend on the signing key, and new logins work with the new key
        self.assertEqual(self.api("GET", "/auth/verify").status_code, 200)
        new_token = self.login()["access_token"]
        self.assertEqual(self.api("GET", "/auth/verify", token=new_token).status_code, 200)
