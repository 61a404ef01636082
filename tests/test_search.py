"""``GET /api/sync/v1/{model}/search``: domain, fields, limit, offset, order and ``sort``.

Every parameter is validated before use: only real fields and paths of the model, only Odoo's
operators, no SQL fragments anywhere (``order`` included).
"""

import json

from odoo.tests import tagged
from odoo.tools import mute_logger

from .data_common import ApiSyncDataCase

BINARY_OR_X2MANY = ("binary", "one2many", "many2many")


@tagged("post_install", "-at_install")
class TestSearch(ApiSyncDataCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.us = cls.env.ref("base.us")
        cls.partners = cls.Partner.create([
            {"name": "Srch Bravo", "email": "b@srch.example.com", "country_id": cls.us.id},
            {"name": "Srch Alpha", "email": "a2@srch.example.com"},
            {"name": "Srch Alpha", "email": "a1@srch.example.com", "country_id": cls.us.id},
            {"name": "Srch Charlie", "email": "c@srch.example.com", "is_company": True},
        ])  # fmt: skip
        cls.domain = json.dumps([["email", "ilike", "@srch.example.com"]])

    def search(self, **params):
        return self.api("GET", "/res.partner/search", params=params)

    def ok(self, **params):
        return self.assertApiOk(self.search(**params))

    def emails(self, result):
        return [record["email"] for record in result["records"]]

    # -- domain ----------------------------------------------------------------------------------
    def test_domain(self):
        result = self.ok(domain=self.domain, fields="email", order="email")
        self.assertEqual(
            self.emails(result),
            [
                "a1@srch.example.com",
                "a2@srch.example.com",
                "b@srch.example.com",
                "c@srch.example.com",
            ],
        )
        self.assertEqual(result["count"], 4)
        # logical operators, dotted paths and any
        domain = [
            "&",
            ["email", "ilike", "@srch.example.com"],
            "|",
            ["country_id.code", "=", "US"],
            ["is_company", "=", True],
        ]
        result = self.ok(domain=json.dumps(domain), fields="email", order="email")
        self.assertEqual(
            self.emails(result), ["a1@srch.example.com", "b@srch.example.com", "c@srch.example.com"]
        )
        domain = [
            ["email", "ilike", "@srch.example.com"],
            ["country_id", "any", [["code", "=", "US"]]],
        ]
        result = self.ok(domain=json.dumps(domain), fields="email", order="email")
        self.assertEqual(self.emails(result), ["a1@srch.example.com", "b@srch.example.com"])
        domain = [["email", "ilike", "@srch.example.com"], ["id", "in", self.partners[:2].ids]]
        self.assertEqual(self.ok(domain=json.dumps(domain))["count"], 2)

    def test_domain_not_json(self):
        for raw, constraint in (
            ("[[name,=,x]]", "json"),
            ("{bad", "json"),
            ("name = 'x'", "json"),
            ("[" * 5000, "max_depth"),  # too deep to be read at all (issue #7)
            ('[["name","=","x"]', "json"),
        ):
            with self.subTest(raw=raw[:20]):
                error = self.assertApiError(
                    self.search(domain=raw), 400, "VALIDATION_ERROR", field="domain"
                )
                self.assertEqual(error["details"]["constraint"], constraint)

    def test_domain_not_a_domain(self):
        for domain in ({"name": "x"}, "name", [["name", "="]], [42], [["name", "=", {"$gt": 1}]]):
            with self.subTest(domain=domain):
                error = self.assertApiError(
                    self.search(domain=json.dumps(domain)), 400, "VALIDATION_ERROR"
                )
                self.assertIn("field", error["details"])

    def test_domain_value_of_the_wrong_type(self):
        """Values the ORM or PostgreSQL cannot use are a 400 too, never a 500."""
        for domain in (
            [["create_date", ">", "garbage"]],
            [["create_date", ">", 5]],
            [["color", "=", "abc"]],
            [["id", "=", "abc"]],
            [["name", "=", "a\u0000b"]],
        ):
            with self.subTest(domain=domain), mute_logger("odoo.sql_db"):
                error = self.assertApiError(
                    self.search(domain=json.dumps(domain)), 400, "VALIDATION_ERROR"
                )
                self.assertIn(error["details"]["constraint"], ("value", "data"))
            with self.subTest(domain=domain, endpoint="list"), mute_logger("odoo.sql_db"):
                response = self.api("GET", "/res.partner", params={"domain": json.dumps(domain)})
                self.assertApiError(response, 400, "VALIDATION_ERROR")

    def test_domain_unknown_field(self):
        for path in ("nope", "country_id.nope", "name.length", "country_id.code.x"):
            with self.subTest(path=path):
                error = self.assertApiError(
                    self.search(domain=json.dumps([[path, "=", "x"]])), 400, "VALIDATION_ERROR",
                    field=path,
                )  # fmt: skip
                self.assertEqual(error["details"]["constraint"], "field")
        # inside 'any' too
        domain = [["country_id", "any", [["nope", "=", 1]]]]
        self.assertApiError(
            self.search(domain=json.dumps(domain)), 400, "VALIDATION_ERROR", field="nope"
        )

    def test_domain_bad_operator(self):
        for operator in ("==", "; DROP TABLE res_partner", "=like; --", "regex", "similar to"):
            with self.subTest(operator=operator):
                response = self.search(domain=json.dumps([["name", operator, "x"]]))
                error = self.assertApiError(response, 400, "VALIDATION_ERROR", field="domain")
                self.assertEqual(error["details"]["constraint"], "operator")
        self.assertApiError(
            self.search(domain=json.dumps(["^", ["name", "=", "x"]])),
            400,
            "VALIDATION_ERROR",
            field="domain",
        )

    def test_sql_in_order_refused(self):
        for order in (
            "name; DROP TABLE res_partner",
            "name desc, (SELECT 1)",
            "id desc --",
            'name collate "C"',
            "lower(name)",
            "nope",
            "password",
            "display_name",
        ):
            with self.subTest(order=order):
                error = self.assertApiError(
                    self.search(order=order), 400, "VALIDATION_ERROR", field="order"
                )
                self.assertEqual(error["details"]["constraint"], "order")
        self.assertTrue(self.Partner.search_count([]))  # still there

    def test_order(self):
        result = self.ok(domain=self.domain, fields="name,email", order="name desc, email asc")
        self.assertEqual(
            self.emails(result),
            [
                "c@srch.example.com",
                "b@srch.example.com",
                "a1@srch.example.com",
                "a2@srch.example.com",
            ],
        )

    def test_sort(self):
        """``sort=name,-id``: the 3PL peer's syntax for ``order``."""
        result = self.ok(domain=self.domain, fields="name", sort="name,-id")
        alpha_ids = sorted(
            self.partners.filtered(lambda p: p.name == "Srch Alpha").ids, reverse=True
        )
        self.assertEqual(
            [r["id"] for r in result["records"]],
            alpha_ids + self.partners[0].ids + self.partners[3].ids,
        )
        result = self.ok(domain=self.domain, fields="email", sort="-email")
        self.assertEqual(self.emails(result)[0], "c@srch.example.com")
        for sort in ("-nope", "name;drop", ",", "name,-lower(id)"):
            with self.subTest(sort=sort):
                self.assertApiError(self.search(sort=sort), 400, "VALIDATION_ERROR")

    # -- limit, offset, count --------------------------------------------------------------------
    def test_limit_offset_count(self):
        """``count`` is the total number of matches, whatever the page."""
        result = self.ok(domain=self.domain, fields="email", order="email", limit=2)
        self.assertEqual(self.emails(result), ["a1@srch.example.com", "a2@srch.example.com"])
        self.assertEqual(result["count"], 4)
        result = self.ok(domain=self.domain, fields="email", order="email", limit=2, offset=3)
        self.assertEqual(self.emails(result), ["c@srch.example.com"])
        self.assertEqual(result["count"], 4)
        result = self.ok(domain=self.domain, fields="email", limit=2, offset=10)
        self.assertEqual(result["records"], [])
        self.assertEqual(result["count"], 4)
        result = self.ok(domain=self.domain, fields="email", limit=4)
        self.assertEqual(result["count"], 4)

    def test_default_limit_is_80(self):
        self.Partner.create([{"name": f"Many {i}", "ref": "srch-many"} for i in range(85)])
        result = self.ok(domain=json.dumps([["ref", "=", "srch-many"]]), fields="name")
        self.assertEqual(len(result["records"]), 80)
        self.assertEqual(result["count"], 85)

    def test_limit_bounds(self):
        for limit in (10**9, 1001, 0, -1, "abc", "1.5"):
            with self.subTest(limit=limit):
                self.assertApiError(
                    self.search(limit=limit), 400, "VALIDATION_ERROR", field="limit"
                )
        visible = self.Partner.with_user(self.api_user).search_count([])
        self.assertEqual(len(self.ok(limit=1000)["records"]), min(1000, visible))
        self.env["ir.config_parameter"].set_param("api_sync.search_limit_cap", "3")
        self.assertApiError(self.search(limit=4), 400, "VALIDATION_ERROR", field="limit")
        self.assertEqual(len(self.ok(limit=3)["records"]), 3)

    def test_offset_bounds(self):
        for offset in (-1, "x"):
            with self.subTest(offset=offset):
                self.assertApiError(
                    self.search(offset=offset), 400, "VALIDATION_ERROR", field="offset"
                )

    # -- fields ----------------------------------------------------------------------------------
    def test_default_field_set(self):
        result = self.ok(domain=self.domain, limit=1)
        record = result["records"][0]
        fields = self.Partner._fields
        self.assertTrue(
            {"id", "name", "email", "country_id", "create_date", "write_date"} <= set(record)
        )
        for name in record:
            with self.subTest(field=name):
                self.assertNotIn(fields[name].type, BINARY_OR_X2MANY)
                self.assertFalse(name.startswith(("message_", "activity_")))
        self.assertNotIn("image_1920", record)

    def test_fields(self):
        result = self.ok(domain=self.domain, fields=" name , country_id ", order="email", limit=1)
        self.assertEqual(result["records"], [
            {"id": self.partners[2].id, "name": "Srch Alpha",
             "country_id": {"id": self.us.id, "name": self.us.name}},
        ])  # fmt: skip
        self.assertApiError(self.search(fields="name,nope"), 400, "VALIDATION_ERROR", field="nope")

    def test_unknown_model(self):
        self.assertApiError(self.api("GET", "/no.such.model/search"), 404, "NOT_FOUND")
        self.assertApiError(
            self.api("GET", "/ir.config_parameter/search"), 403, "PERMISSION_DENIED"
        )
