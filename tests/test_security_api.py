"""Issue #7, findings 4, 5 and 7 over real HTTP: linked records, token binding, uniform answers
and input limits."""

import json

from odoo.tests import tagged
from odoo.tools import mute_logger

from .security_common import SECRET_B, SecurityHttpCase


@tagged("post_install", "-at_install")
class TestSecurityApi(SecurityHttpCase):
    # -- finding 4: skip_validation never skips authorization ----------------------------------
    def test_skip_validation_still_checks_linked_records(self):
        token = self.client_token()
        count = self.env["res.partner"].search_count([])
        options = {"skip_validation": True}
        for method, path, field, data in (
            ("PATCH", f"/res.partner/{self.partner_a.id}", "company_id",
             {"company_id": self.company_b.id}),
            ("POST", "/res.partner", "parent_id",
             {"name": "Child", "parent_id": self.partner_b.id}),
            ("POST", "/res.partner", "child_ids",
             {"name": "Tagged", "child_ids": [[4, self.partner_b.id]]}),
        ):  # fmt: skip
            with self.subTest(path=path, data=data):
                response = self.api(method, path, json={"data": data, "options": options},
                                    token=token)  # fmt: skip
                self.assertApiError(response, 400, "VALIDATION_ERROR", field=field)
                self.assertNotIn(SECRET_B, response.text)
        self.env.invalidate_all()
        self.assertEqual(self.partner_a.company_id, self.company_a)
        self.assertEqual(self.env["res.partner"].search_count([]), count)
        self.assertFalse(self.partner_b.child_ids)
        # skip_validation still drops unknown fields, and values are still converted
        response = self.api("POST", "/res.partner", token=token, json={
            "data": {"name": "Lenient", "unknown_field": 1, "parent_id": self.partner_a.id},
            "options": options,
        })  # fmt: skip
        self.assertEqual(response.status_code, 201, response.text)
        self.assertEqual(self.env["res.partner"].browse(response.json()["id"]).parent_id,
                         self.partner_a)  # fmt: skip

    # -- finding 5: tokens are bound to the rights they were issued with -----------------------
    def assertTokensDead(self, pair):
        self.assertApiError(
            self.api("GET", "/auth/verify", token=pair["access_token"]), 401, "AUTHENTICATION_ERROR"
        )
        response = self.api("POST", "/auth/refresh", token=False,
                            json={"refresh_token": pair["refresh_token"]})  # fmt: skip
        self.assertApiError(response, 401, "AUTHENTICATION_ERROR")
        self.assertNotIn("access_token", response.text)

    def test_tokens_die_with_the_rights_they_were_issued_for(self):
        group = self.env.ref("api_sync.group_api_sync_user")
        changes = {
            "group removed from the user": lambda: self.api_user.write(
                {"group_ids": [(3, group.id)]}
            ),
            "user removed from the group": lambda: group.write(
                {"user_ids": [(3, self.api_user.id)]}
            ),
            "password changed": lambda: self.api_user.write({"password": "new_pw_123"}),
            "user archived": lambda: self.api_user.write({"active": False}),
            "API key revoked": lambda: (
                self.env["res.users.apikeys"].search([("user_id", "=", self.api_user.id)])._remove()
            ),
        }
        for name, change in changes.items():
            with self.subTest(change=name), self.env.cr.savepoint(flush=True) as savepoint:
                pair = self.login()
                other = self.login(username="user_b", password="user_b_pw")
                self.assertEqual(
                    self.api("GET", "/auth/verify", token=pair["access_token"]).status_code, 200
                )
                change()
                self.env.flush_all()
                self.assertTokensDead(pair)
                # another user's tokens are untouched
                response = self.api("GET", "/auth/verify", token=other["access_token"])
                self.assertEqual(response.status_code, 200, response.text)
                savepoint.rollback()
                self.env.invalidate_all()
                self.env.registry.clear_cache()

    def test_adding_a_group_keeps_the_tokens(self):
        pair = self.login()
        self.api_user.write({"group_ids": [(4, self.env.ref("base.group_multi_currency").id)]})
        self.assertEqual(self.api("GET", "/auth/verify", token=pair["access_token"]).status_code,
                         200)  # fmt: skip

    # -- finding 7: uniform answers --------------------------------------------------------------
    def test_login_gives_no_oracle(self):
        wrong = self.login_attempt({"username": "outsider_u", "password": "nope"})
        right = self.login_attempt({"username": "outsider_u", "password": "outsider_u_pw"})
        unknown = self.login_attempt({"username": "nobody_here", "password": "nope"})
        for response in (wrong, right, unknown):
            self.assertApiError(response, 401, "AUTHENTICATION_ERROR")
        self.assertEqual(wrong.json()["error"]["message"], right.json()["error"]["message"])
        self.assertEqual(wrong.json()["error"]["message"], unknown.json()["error"]["message"])
        self.assertFalse(self.env["api.sync.session"].search([("user_id", "=", self.outsider.id)]))

    def test_foreign_and_missing_ids_get_the_same_answer(self):
        missing = self.env["res.partner"].search([], order="id desc", limit=1).id + 1000
        for method, body in (("GET", None), ("PATCH", {"data": {"name": "x"}}), ("DELETE", None)):
            with self.subTest(method=method):
                foreign = self.api(method, f"/res.partner/{self.partner_b.id}", json=body)
                absent = self.api(method, f"/res.partner/{missing}", json=body)
                self.assertApiError(foreign, 404, "NOT_FOUND")
                self.assertApiError(absent, 404, "NOT_FOUND")
                self.assertNotIn(SECRET_B, foreign.text)
        for data in ({"parent_id": self.partner_b.id}, {"parent_id": missing}):
            with self.subTest(data=data):
                response = self.api("POST", "/res.partner", json={"data": {"name": "L", **data}})
                self.assertApiError(response, 400, "VALIDATION_ERROR", field="parent_id")
                self.assertEqual(response.json()["error"]["details"]["constraint"], "exists")
        self.assertEqual(self.partner_b.name, f"Partner {SECRET_B}")

    def test_upsert_external_ids_stay_in_the_addon_namespace(self):
        xmlids = self.env["ir.model.data"].search_count([])
        for external_id in (
            "base.evil_partner",
            "__import__.x",
            "shop.sku",
            ".x",
            "base.main_partner",
        ):
            with self.subTest(external_id=external_id):
                response = self.api("POST", "/res.partner/batch", json={"operations": [
                    {"method": "upsert", "external_id": external_id, "data": {"name": "Evil"}},
                ]})  # fmt: skip
                self.assertApiError(response, 400, "VALIDATION_ERROR", field="external_id")
        self.assertEqual(self.env["ir.model.data"].search_count([]), xmlids)
        self.assertFalse(self.env["res.partner"].search([("name", "=", "Evil")]))
        self.assertNotEqual(self.env.ref("base.main_partner").name, "Evil")
        # a client gets its own namespace, and the shared one
        token = self.client_token()
        response = self.api("POST", "/res.partner/batch", token=token, json={"operations": [
            {"method": "upsert", "external_id": "sku_1", "data": {"name": "Mine"}},
        ]})  # fmt: skip
        self.assertEqual(response.status_code, 200, response.text)
        partner = self.env.ref(f"__api_sync_{self.client.id}__.sku_1")
        self.assertEqual(partner.name, "Mine")

    # -- finding 7: input limits -------------------------------------------------------------
    def assertRefusedAndLogged(self, response, status=400):
        self.assertApiError(response, status, "VALIDATION_ERROR")
        self.assertTrue(response.headers["Content-Type"].startswith("application/json"))
        log = self.env["api.sync.request.log"].search(
            [("request_id", "=", response.json()["request_id"])]
        )
        self.assertEqual(len(log), 1)
        return response.json()["error"]

    def test_bad_ids_in_the_path(self):
        for raw in ("²", "1%00", "\u0661", "1%0A", "0x10"):
            with self.subTest(raw=raw):
                error = self.assertRefusedAndLogged(self.api("GET", f"/res.partner/{raw}"))
                self.assertEqual(error["details"]["field"], "id")

    def test_json_limits(self):
        count = self.env["res.partner"].search_count([])
        deep = "[" * 100000 + "]" * 100000
        for raw, constraint in (
            (b'{"data": {"name": "N", "color": NaN}}', "json"),
            (b'{"data": {"name": "N", "color": Infinity}}', "json"),
            (b'{"data": {"name": "N", "x": ' + deep.encode() + b"}}", "max_depth"),
            (b'{"data": {"name": "N", "x": ' + b"[" * 70 + b"]" * 70 + b"}}", "max_depth"),
        ):
            with self.subTest(raw=raw[:60], constraint=constraint):
                response = self.api("POST", "/res.partner", data=raw,
                                    headers={"Content-Type": "application/json"})  # fmt: skip
                error = self.assertRefusedAndLogged(response)
                self.assertEqual(error["details"]["constraint"], constraint)
        self.assertEqual(self.env["res.partner"].search_count([]), count)

    def test_domain_limits(self):
        domain = [["name", "=", "x"]]
        for _level in range(400):
            domain = [["parent_id", "any", domain]]
        wide = [["name", "=", str(i)] for i in range(600)]
        nested = [["name", "=", "x"]]
        for _level in range(10):  # within the JSON depth cap, past the domain's
            nested = [["child_ids", "any", nested]]
        for name, value, constraint in (
            ("deep", domain, "max_depth"),
            ("nested any", nested, "max_depth"),
            ("wide", wide, "max_terms"),
            ("nan", '[["id", "=", NaN]]', "json"),
        ):
            with self.subTest(domain=name):
                raw = value if isinstance(value, str) else json.dumps(value)
                response = self.api("GET", "/res.partner/search", params={"domain": raw})
                error = self.assertRefusedAndLogged(response)
                self.assertEqual(error["details"]["constraint"], constraint)
                self.assertEqual(error["details"]["field"], "domain")

    def test_idempotency_key_is_capped(self):
        count = self.env["res.partner"].search_count([])
        response = self.api("POST", "/res.partner", json={"data": {"name": "Keyed"}},
                            headers={"Idempotency-Key": "k" * 60000})  # fmt: skip
        error = self.assertRefusedAndLogged(response)
        self.assertEqual(error["details"]["field"], "Idempotency-Key")
        self.assertEqual(self.env["res.partner"].search_count([]), count)
        self.assertFalse(self.env["api.sync.idempotency.key"].search([]))
        response = self.api("POST", "/res.partner", json={"data": {"name": "Keyed"}},
                            headers={"Idempotency-Key": "k" * 255})  # fmt: skip
        self.assertEqual(response.status_code, 201, response.text)

    def test_database_error_text_is_not_sent(self):
        for domain in ([["id", "=", "abc"]], [["color", "=", "abc"]], [["id", "in", ["1x"]]]):
            with self.subTest(domain=domain), mute_logger("odoo.sql_db"):
                response = self.api(
                    "GET", "/res.partner/search", params={"domain": json.dumps(domain)}
                )
            self.assertApiError(response, 400, "VALIDATION_ERROR")
            self.assertNotIn("invalid input syntax", response.text)
            self.assertNotIn("LINE 1", response.text)
