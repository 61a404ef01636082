import json

from odoo.tests import tagged
from odoo.tools import mute_logger

from ..tools import tokens
from .common import ApiSyncHttpCase

MARKER = "Bad Input Partner"


@tagged("post_install", "-at_install")
class TestBadInput(ApiSyncHttpCase):
    def partner_state(self):
        Partner = self.env["res.partner"].with_context(active_test=False)
        return Partner.search_count([]), Partner.search_count([("name", "like", MARKER)])

    def assertNothingWritten(self, before):
        self.env.invalidate_all()
        self.assertEqual(self.partner_state(), before, "the failed call must not write anything")

    def assertCleanError(self, response, status, code):
        error = self.assertApiError(response, status, code)
        for leak in ("Traceback", 'File "', "psycopg2", "odoo/", "site-packages"):
            self.assertNotIn(leak, response.text)
        self.assertEqual(response.headers["Content-Type"].split(";")[0], "application/json")
        return error

    def post_raw(self, data, content_type="application/json", token=None, path="/res.partner"):
        return self.api(
            "POST", path, data=data, token=token, headers={"Content-Type": content_type}
        )

    # -- body --------------------------------------------------------------------------------
    def test_malformed_json(self):
        before = self.partner_state()
        for raw in (f'{{"data": {{"name": "{MARKER}"', "{'data': 1}", "not json", '{"data": }'):
            with self.subTest(raw=raw):
                error = self.assertCleanError(self.post_raw(raw), 400, "VALIDATION_ERROR")
                self.assertEqual(error["details"]["constraint"], "json")
        self.assertNothingWritten(before)
        response = self.post_raw('{"username": ', path="/auth/login", token=False)
        self.assertCleanError(response, 400, "VALIDATION_ERROR")

    def test_body_is_not_an_object(self):
        before = self.partner_state()
        for body in ([{"name": MARKER}], "text", 42, None):
            with self.subTest(body=body):
                response = self.post_raw(json.dumps(body))
                self.assertCleanError(response, 400, "VALIDATION_ERROR")
        self.assertNothingWritten(before)

    def test_wrong_content_type(self):
        before = self.partner_state()
        body = json.dumps({"data": {"name": MARKER}})
        for content_type in ("text/plain", "application/xml", "application/x-www-form-urlencoded"):
            with self.subTest(content_type=content_type):
                error = self.assertCleanError(
                    self.post_raw(body, content_type), 415, "VALIDATION_ERROR"
                )
                self.assertEqual(error["details"]["constraint"], "content_type")
        response = self.api("POST", "/res.partner", data={"data": MARKER})  # a form post
        self.assertCleanError(response, 415, "VALIDATION_ERROR")
        self.assertNothingWritten(before)
        # the charset parameter is fine
        response = self.post_raw(body, "application/json; charset=utf-8")
        self.assertEqual(response.status_code, 201, response.text)

    def test_oversized_body(self):
        self.env["ir.config_parameter"].set_param("api_sync.max_body_mb", "1")
        before = self.partner_state()
        big = json.dumps({"data": {"name": MARKER, "comment": "x" * (2 * 1024 * 1024)}})
        error = self.assertCleanError(self.post_raw(big), 413, "VALIDATION_ERROR")
        self.assertEqual(error["details"]["constraint"], "max_body_size")
        self.assertNothingWritten(before)
        # under the limit is fine
        small = json.dumps({"data": {"name": MARKER, "comment": "x" * (512 * 1024)}})
        response = self.post_raw(small)
        self.assertEqual(response.status_code, 201, response.text)

    def test_oversized_body_is_refused_before_authentication(self):
        self.env["ir.config_parameter"].set_param("api_sync.max_body_mb", "1")
        big = json.dumps({"data": {"name": MARKER, "comment": "x" * (2 * 1024 * 1024)}})
        self.assertCleanError(self.post_raw(big, token="garbage"), 413, "VALIDATION_ERROR")

    # -- endpoints and ids -------------------------------------------------------------------
    def test_unknown_endpoint(self):
        for method, path in (
            ("GET", "/no/such/endpoint"),
            ("POST", "/res.partner/1/2/3"),
            ("DELETE", "/res.partner"),
            ("PATCH", "/auth/login/now"),
        ):
            with self.subTest(method=method, path=path):
                for token in (None, False):
                    response = self.api(method, path, token=token)
                    error = self.assertCleanError(response, 404, "NOT_FOUND")
                    self.assertIn(path.split("/")[1], error["message"])

    def test_unknown_model(self):
        for path in ("/res.nothing", "/res.nothing/1", "/res.nothing/search"):
            with self.subTest(path=path):
                self.assertCleanError(self.api("GET", path), 404, "NOT_FOUND")
        before = self.partner_state()
        response = self.api("POST", "/res.nothing", json={"data": {"name": MARKER}})
        self.assertCleanError(response, 404, "NOT_FOUND")
        self.assertNothingWritten(before)

    def test_abstract_and_transient_models_are_not_found(self):
        for model in ("mail.thread", "base", "res.config.settings", "api.sync.client.secret"):
            with self.subTest(model=model):
                response = self.api("GET", f"/{model}")
                self.assertIn(response.status_code, (403, 404), response.text)
                self.assertIs(response.json()["success"], False)

    def test_invalid_record_id(self):
        for raw in ("abc", "0", "-1", "1.5", "1e3"):
            with self.subTest(raw=raw):
                self.assertCleanError(
                    self.api("GET", f"/res.partner/{raw}"), 400, "VALIDATION_ERROR"
                )

    def test_missing_record(self):
        self.assertCleanError(self.api("GET", "/res.partner/999999999"), 404, "NOT_FOUND")

    def test_out_of_range_record_id(self):
        """An id PostgreSQL cannot store is a client error, not a server error."""
        response = self.api("GET", "/res.partner/99999999999999999999")
        self.assertIn(response.status_code, (400, 404), response.text)
        self.assertCleanError(response, response.status_code, response.json()["error"]["code"])

    # -- data ----------------------------------------------------------------------------------
    def test_invalid_data_writes_nothing(self):
        before = self.partner_state()
        for body, field in (
            ({}, "data"),
            ({"data": "name"}, "data"),
            ({"data": {"name": MARKER, "no_such_field": 1}}, "no_such_field"),
            ({"data": {"name": MARKER, "id": 5}}, "id"),
            ({"data": {"name": MARKER, "parent_id": "abc"}}, "parent_id"),
            ({"data": {"name": MARKER, "parent_id": 999999999}}, "parent_id"),
            ({"data": {"name": MARKER, "customer_rank": "many"}}, "customer_rank"),
        ):
            with self.subTest(body=body):
                self.assertApiError(
                    self.api("POST", "/res.partner", json=body),
                    400,
                    "VALIDATION_ERROR",
                    field=field,
                )
        self.assertNothingWritten(before)

    def test_failure_after_the_write_rolls_it_back(self):
        """The record is created, then the call fails: the creation is undone."""
        before = self.partner_state()
        response = self.api(
            "POST",
            "/res.partner",
            json={
                "data": {"name": MARKER},
                "options": {"return_fields": ["name", "no_such_field"]},
            },
        )
        self.assertCleanError(response, 400, "VALIDATION_ERROR")
        self.assertNothingWritten(before)

    def test_update_failure_rolls_back(self):
        partner = self.env["res.partner"].create({"name": "Unchanged"})
        response = self.api(
            "PUT",
            f"/res.partner/{partner.id}",
            json={"data": {"name": MARKER}, "options": {"return_fields": ["no_such_field"]}},
        )
        self.assertCleanError(response, 400, "VALIDATION_ERROR")
        partner.invalidate_recordset()
        self.assertEqual(partner.name, "Unchanged")

    def test_access_error_writes_nothing(self):
        """The API user may not create countries (Odoo access rights): 403, nothing written."""
        count = self.env["res.country"].search_count([])
        response = self.api(
            "POST", "/res.country", json={"data": {"name": "Atlantis", "code": "QQ"}}
        )
        self.assertCleanError(response, 403, "PERMISSION_DENIED")
        self.assertEqual(self.env["res.country"].search_count([]), count)

    def test_every_refusal_writes_nothing(self):
        """Bad token, disabled client, disallowed model: each has its code, nothing is written."""
        session_token = self.login()
        session = self.env["api.sync.session"].search([("user_id", "=", self.api_user.id)], limit=1)
        expired, _exp = tokens.encode_access_token(
            self.env["api.sync.auth"]._signing_key(),
            uid=self.api_user.id,
            session_id=session.id,
            database=self.env.cr.dbname,
            lifetime=-60,
        )
        client_token = self.client_token()
        body = {"data": {"name": MARKER}}
        before = self.partner_state()
        cases = [
            ("no token", "/res.partner", False, 401, "AUTHENTICATION_ERROR"),
            ("garbage token", "/res.partner", "garbage", 401, "AUTHENTICATION_ERROR"),
            ("expired token", "/res.partner", expired, 401, "AUTHENTICATION_ERROR"),
            (
                "refresh token as bearer",
                "/res.partner",
                session_token["refresh_token"],
                401,
                "AUTHENTICATION_ERROR",
            ),
            ("disallowed model", "/res.partner.category", client_token, 403, "PERMISSION_DENIED"),
            ("disallowed operation", "/res.country", client_token, 403, "PERMISSION_DENIED"),
            ("technical model", "/ir.config_parameter", None, 403, "PERMISSION_DENIED"),
        ]
        for label, path, token, status, code in cases:
            with self.subTest(label):
                self.assertCleanError(self.api("POST", path, json=body, token=token), status, code)
        self.assertNothingWritten(before)
        # revoked token and disabled client
        self.api("POST", "/auth/logout", token=session_token["access_token"])
        response = self.api("POST", "/res.partner", json=body, token=session_token["access_token"])
        self.assertCleanError(response, 401, "AUTHENTICATION_ERROR")
        self.client.active = False
        self.assertCleanError(
            self.api("POST", "/res.partner", json=body, token=client_token),
            401,
            "AUTHENTICATION_ERROR",
        )
        self.assertNothingWritten(before)

    def test_internal_errors_are_enveloped(self):
        """A server-side failure answers INTERNAL_ERROR without any traceback."""
        # a domain on a non-stored computed field that cannot be searched
        with mute_logger("odoo.addons.api_sync.controllers.envelope", "odoo.orm.fields"):
            response = self.api(
                "GET",
                "/res.partner/search",
                params={"domain": json.dumps([["avatar_128", "=", "x"]])},
            )
        self.assertGreaterEqual(response.status_code, 400, response.text)
        body = response.json()
        self.assertIs(body["success"], False)
        self.assertEqual(body["error"]["trace_id"], body["request_id"])
        self.assertNotIn("Traceback", response.text)
        self.assertNotIn('File "', response.text)
