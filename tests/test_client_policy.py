from odoo.tests import new_test_user, tagged

from .common import ApiSyncHttpCase


@tagged("post_install", "-at_install")
class TestClientPolicy(ApiSyncHttpCase):
    def allow(self, model, **perms):
        self.client.rule_ids = [(0, 0, {"model_id": self.env["ir.model"]._get_id(model), **perms})]

    # -- allowed models and operations of a client ---------------------------------------------
    def test_allowed_model_and_operation(self):
        token = self.client_token()
        response = self.api("GET", "/res.country/search", token=token, params={"limit": 1})
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(len(response.json()["records"]), 1)
        created = self.api("POST", "/res.partner", json={"data": {"name": "Allowed"}}, token=token)
        self.assertEqual(created.status_code, 201, created.text)

    def test_model_not_allowed_for_the_client(self):
        token = self.client_token()
        category = self.env["res.partner.category"].create({"name": "Some Tag"})
        for method, path in (
            ("GET", "/res.partner.category"),
            ("GET", "/res.partner.category/search"),
            ("GET", f"/res.partner.category/{category.id}"),
            ("DELETE", f"/res.partner.category/{category.id}"),
        ):
            with self.subTest(method=method, path=path):
                error = self.assertApiError(
                    self.api(method, path, token=token), 403, "PERMISSION_DENIED"
                )
                self.assertEqual(error["details"]["model"], "res.partner.category")
        self.assertTrue(category.exists())
        count = self.env["res.partner.category"].search_count([])
        response = self.api(
            "POST", "/res.partner.category", json={"data": {"name": "New Tag"}}, token=token
        )
        self.assertApiError(response, 403, "PERMISSION_DENIED")
        self.assertEqual(self.env["res.partner.category"].search_count([]), count)

    def test_operation_not_allowed_for_the_client(self):
        """res.country is read-only for the test client."""
        token = self.client_token()
        country = self.env.ref("base.be")
        count = self.env["res.country"].search_count([])
        response = self.api(
            "POST", "/res.country", json={"data": {"name": "Atlantis", "code": "QQ"}}, token=token
        )
        error = self.assertApiError(response, 403, "PERMISSION_DENIED")
        self.assertEqual(error["details"], {"model": "res.country", "operation": "create"})
        response = self.api(
            "PUT", f"/res.country/{country.id}", json={"data": {"name": "Renamed"}}, token=token
        )
        self.assertEqual(
            self.assertApiError(response, 403, "PERMISSION_DENIED")["details"]["operation"], "write"
        )
        response = self.api("DELETE", f"/res.country/{country.id}", token=token)
        self.assertEqual(
            self.assertApiError(response, 403, "PERMISSION_DENIED")["details"]["operation"],
            "delete",
        )
        self.assertEqual(self.env["res.country"].search_count([]), count)
        self.assertEqual(country.name, "Belgium")

    def test_rule_change_applies_to_live_tokens(self):
        token = self.client_token()
        rule = self.client.rule_ids.filtered(lambda r: r.model == "res.partner")
        rule.perm_create = False
        response = self.api("POST", "/res.partner", json={"data": {"name": "No More"}}, token=token)
        self.assertApiError(response, 403, "PERMISSION_DENIED")
        self.assertFalse(self.env["res.partner"].search([("name", "=", "No More")]))
        rule.unlink()
        self.assertApiError(self.api("GET", "/res.partner", token=token), 403, "PERMISSION_DENIED")

    # -- technical models ----------------------------------------------------------------------
    def test_technical_models_are_refused(self):
        tokens = {
            "api_key": None,
            "jwt": self.login()["access_token"],
            "client": self.client_token(),
        }
        for model in (
            "ir.config_parameter",
            "res.users.apikeys",
            "res.users",
            "res.groups",
            "ir.model",
            "ir.cron",
            "api.sync.client",
            "api.sync.session",
        ):
            for kind, token in tokens.items():
                with self.subTest(model=model, token=kind):
                    for path in (f"/{model}", f"/{model}/search", f"/{model}/1"):
                        response = self.api("GET", path, token=token)
                        self.assertApiError(response, 403, "PERMISSION_DENIED")

    def test_technical_models_cannot_be_written(self):
        ICP = self.env["ir.config_parameter"]
        secret = ICP.get_param("api_sync.jwt_secret")
        param = ICP.search([("key", "=", "api_sync.jwt_secret")])
        for token in (None, self.client_token()):
            response = self.api(
                "POST",
                "/ir.config_parameter",
                json={"data": {"key": "api_sync.evil", "value": "1"}},
                token=token,
            )
            self.assertApiError(response, 403, "PERMISSION_DENIED")
            response = self.api(
                "PUT",
                f"/ir.config_parameter/{param.id}",
                json={"data": {"value": "known"}},
                token=token,
            )
            self.assertApiError(response, 403, "PERMISSION_DENIED")
        self.assertFalse(ICP.get_param("api_sync.evil"))
        self.assertEqual(ICP.get_param("api_sync.jwt_secret"), secret)
        self.assertNotIn(secret, self.api("GET", f"/ir.config_parameter/{param.id}").text)

    def test_technical_model_allowed_explicitly_by_a_manager(self):
        self.allow("res.users", perm_read=True, perm_write=True)
        token = self.client_token()
        response = self.api("GET", f"/res.users/{self.api_user.id}", token=token)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json()["data"]["login"], "api_user")

    # -- secret fields -------------------------------------------------------------------------
    def test_password_field_is_never_read(self):
        self.allow("res.users", perm_read=True, perm_write=True)
        token = self.client_token()
        data = self.api("GET", f"/res.users/{self.api_user.id}", token=token).json()["data"]
        self.assertNotIn("password", data)
        self.assertFalse(
            [name for name in data if "pass" in name or "key" in name or "secret" in name], data
        )
        for fields in ("password", "name,password", "new_password", "api_key_ids", "totp_secret"):
            with self.subTest(fields=fields):
                response = self.api(
                    "GET", f"/res.users/{self.api_user.id}", token=token, params={"fields": fields}
                )
                self.assertEqual(response.status_code, 400, response.text)
                body = response.json()
                self.assertEqual(body["error"]["code"], "VALIDATION_ERROR")
                self.assertNotIn("$pbkdf2", response.text)
        response = self.api(
            "GET", "/res.users/search", token=token, params={"fields": "login,password"}
        )
        self.assertApiError(response, 400, "VALIDATION_ERROR", field="password")
        response = self.api(
            "GET",
            "/res.users/search",
            token=token,
            params={"domain": '[["password", "!=", false]]'},
        )
        self.assertEqual(response.status_code, 400, response.text)

    def test_password_field_is_never_written(self):
        self.allow("res.users", perm_read=True, perm_write=True)
        token = self.client_token()
        response = self.api(
            "PUT",
            f"/res.users/{self.client_user.id}",
            json={"data": {"password": "hacked_pw_1"}},
            token=token,
        )
        self.assertApiError(response, 400, "VALIDATION_ERROR", field="password")
        # the password did not change: the old one still authenticates, the new one does not
        bad = self.login_attempt({"username": "client_user", "password": "hacked_pw_1"})
        self.assertApiError(bad, 401, "AUTHENTICATION_ERROR")
        self.env["res.users"].browse(self.client_user.id).with_user(
            self.client_user
        )._check_credentials(
            {"type": "password", "password": "client_user"}, {"interactive": False}
        )

    def test_unknown_field_password_on_partner(self):
        partner = self.env["res.partner"].create({"name": "Secretless"})
        response = self.api("GET", f"/res.partner/{partner.id}", params={"fields": "password"})
        self.assertApiError(response, 400, "VALIDATION_ERROR", field="password")
        response = self.api(
            "GET", f"/res.partner/{partner.id}", params={"fields": "name,signup_token"}
        )
        self.assertEqual(response.status_code, 400, response.text)
        self.assertNotIn("signup_token", response.json().get("data") or {})

    # -- who may use the API at all ------------------------------------------------------------
    def test_user_without_api_group_cannot_log_in(self):
        new_test_user(self.env, login="outsider", password="outsider_pw", groups="base.group_user")
        response = self.login_attempt({"username": "outsider", "password": "outsider_pw"})
        self.assertApiError(response, 401, "AUTHENTICATION_ERROR")
        self.assertFalse(self.env["api.sync.session"].search([("user_id.login", "=", "outsider")]))

    def test_removing_the_api_group_blocks_api_keys(self):
        self.assertEqual(self.api("GET", "/auth/me").status_code, 200)
        self.api_user.group_ids = [(3, self.env.ref("api_sync.group_api_sync_user").id)]
        self.assertApiError(self.api("GET", "/auth/me"), 403, "PERMISSION_DENIED")
