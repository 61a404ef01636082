"""Odoo and database errors mapped to the spec's error table, with nothing written.

access rights -> 403 PERMISSION_DENIED, missing or hidden by record rules -> 404 NOT_FOUND,
constraint and validation errors -> 400 VALIDATION_ERROR, unique violations -> 409
DUPLICATE_RECORD.
"""

from odoo import Command
from odoo.tests import tagged
from odoo.tools import mute_logger

from .data_common import ApiSyncDataCase


@tagged("post_install", "-at_install")
class TestErrorsMapping(ApiSyncDataCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other_company = cls.env["res.company"].create({"name": "Other Co"})
        # a partner of a company the API user is not a member of: invisible to them
        cls.hidden = cls.Partner.create(
            {"name": "Hidden Partner", "company_id": cls.other_company.id}
        )
        cls.partner = cls.Partner.create({"name": "Mapped"})

    def test_missing_record_is_404(self):
        missing = 2_000_000_000
        for method, json in (
            ("GET", None),
            ("PUT", {"data": {"name": "x"}}),
            ("PATCH", {"data": {"name": "x"}}),
            ("DELETE", None),
        ):
            with self.subTest(method=method):
                error = self.assertApiError(
                    self.api(method, f"/res.partner/{missing}", json=json), 404, "NOT_FOUND"
                )
                self.assertEqual(error["details"], {"model": "res.partner", "id": missing})

    def test_unknown_model_or_endpoint_is_404(self):
        self.assertApiError(
            self.api("POST", "/no.such.model", json={"data": {"name": "x"}}), 404, "NOT_FOUND"
        )
        self.assertApiError(self.api("GET", "/no.such.model/1"), 404, "NOT_FOUND")
        self.assertApiError(
            self.api("GET", f"/res.partner/{self.partner.id}/extra"), 404, "NOT_FOUND"
        )

    def test_ids_not_integers_are_400(self):
        for raw in ("abc", "-1", "0", "1.5", "1e3", "0x10", " 7"):
            with self.subTest(raw=raw):
                error = self.assertApiError(
                    self.api("GET", f"/res.partner/{raw}"), 400, "VALIDATION_ERROR", field="id"
                )
                self.assertEqual(error["details"]["value"], raw)
        self.assertApiError(
            self.api("PUT", "/res.partner/abc", json={"data": {"name": "x"}}),
            400,
            "VALIDATION_ERROR",
            field="id",
        )
        self.assertApiError(
            self.api("DELETE", "/res.partner/abc"), 400, "VALIDATION_ERROR", field="id"
        )
        self.assertEqual(self.partner.name, "Mapped")

    def test_unique_violation_is_409(self):
        """res.partner.bank: UNIQUE(sanitized_acc_number, partner_id)."""
        body = {"data": {"acc_number": "BE71 0961 2345 6769", "partner_id": self.partner.id}}
        first = self.assertApiOk(self.api("POST", "/res.partner.bank", json=body), 201)
        with mute_logger("odoo.sql_db"):
            response = self.api("POST", "/res.partner.bank", json=body)
        error = self.assertApiError(response, 409, "DUPLICATE_RECORD")
        self.assertNotIn("INSERT", error["message"])
        banks = self.env["res.partner.bank"].search([("partner_id", "=", self.partner.id)])
        self.assertEqual(banks.ids, [first["id"]])

    def test_python_constraint_is_400(self):
        """An ``@api.constrains`` ValidationError (recursive partner hierarchy)."""
        child = self.Partner.create({"name": "Child", "parent_id": self.partner.id})
        response = self.api(
            "PUT", f"/res.partner/{self.partner.id}", json={"data": {"parent_id": child.id}}
        )
        error = self.assertApiError(response, 400, "VALIDATION_ERROR")
        self.assertIn("recursive", error["message"].lower())
        self.assertFalse(self.partner.parent_id)

    def test_sql_check_constraint_is_400(self):
        with mute_logger("odoo.sql_db"):
            response = self.api(
                "POST", "/res.partner", json={"data": {"name": None, "email": "anon@example.com"}}
            )
        self.assertApiError(response, 400, "VALIDATION_ERROR")
        self.assertFalse(self.Partner.search([("email", "=", "anon@example.com")]))

    def test_value_out_of_column_range_is_400(self):
        """Values the database cannot hold (integer overflow) are bad input, not server errors."""
        for data, field in (
            ({"color": 10**20}, "color"),
            ({"color": -(2**31) - 1}, "color"),
            ({"parent_id": 2**31}, "parent_id"),
            ({"category_id": [10**20]}, "category_id"),
        ):
            with self.subTest(data=data):
                response = self.api("POST", "/res.partner", json={"data": {"name": "Huge", **data}})
                self.assertApiError(response, 400, "VALIDATION_ERROR", field=field)
        self.assertFalse(self.Partner.search([("name", "=", "Huge")]))
        self.assertApiError(
            self.api("GET", f"/res.partner/{2**31}"), 400, "VALIDATION_ERROR", field="id"
        )
        for record_id in (10**20, 0, -4):
            with self.subTest(record_id=record_id):
                response = self.api(
                    "POST",
                    "/res.partner/batch",
                    json={"operations": [{"method": "delete", "id": record_id}]},
                )
                self.assertApiError(response, 400, "VALIDATION_ERROR", field="operations[0].id")

    def test_access_rights_are_403(self):
        """No ACL for the operation (product.product create without product rights)."""
        self.api_user.write(
            {"group_ids": [Command.unlink(self.env.ref("product.group_product_manager").id)]}
        )
        response = self.api("POST", "/product.product", json={"data": {"name": "Forbidden"}})
        self.assertApiError(response, 403, "PERMISSION_DENIED")
        self.assertFalse(self.Product.search([("name", "=", "Forbidden")]))
        # read is still allowed
        product = self.Product.create({"name": "Readable"})
        self.assertApiOk(self.api("GET", f"/product.product/{product.id}"))
        response = self.api(
            "PUT", f"/product.product/{product.id}", json={"data": {"name": "Changed"}}
        )
        self.assertApiError(response, 403, "PERMISSION_DENIED")
        self.assertEqual(product.name, "Readable")

    def test_record_rule_is_404(self):
        """A record of another company exists, but the record rules hide it: the same answer as
        a missing record (issue #7: no oracle on other companies' ids)."""
        for method, json in (("GET", None), ("PUT", {"data": {"name": "Seen"}}), ("DELETE", None)):
            with self.subTest(method=method):
                self.assertApiError(
                    self.api(method, f"/res.partner/{self.hidden.id}", json=json),
                    404,
                    "NOT_FOUND",
                )
        self.assertEqual(self.hidden.name, "Hidden Partner")
        # and it is not found by a search either
        result = self.assertApiOk(
            self.api(
                "GET", "/res.partner/search", params={"domain": f'[["id", "=", {self.hidden.id}]]'}
            )
        )
        self.assertEqual(result["count"], 0)

    def test_many2one_to_unreadable_record_is_400(self):
        """Answered as a missing linked record (issue #7: no oracle on other companies' ids)."""
        response = self.api(
            "POST", "/res.partner", json={"data": {"name": "Sneaky", "parent_id": self.hidden.id}}
        )
        error = self.assertApiError(response, 400, "VALIDATION_ERROR", field="parent_id")
        self.assertNotIn("Hidden Partner", error["message"])
        self.assertFalse(self.Partner.search([("name", "=", "Sneaky")]))
        response = self.api(
            "PUT",
            f"/res.partner/{self.partner.id}",
            json={"data": {"child_ids": [[6, 0, [self.hidden.id]]]}},
        )
        self.assertApiError(response, 400, "VALIDATION_ERROR", field="child_ids")
        self.assertFalse(self.partner.child_ids)
        # in a batch: the error of the operation, nothing written
        response = self.api("POST", "/res.partner/batch", json={"operations": [
            {"method": "create", "data": {"name": "Sneaky 1"}},
            {"method": "create", "data": {"name": "Sneaky 2", "parent_id": self.hidden.id}},
        ]})  # fmt: skip
        error = self.assertApiError(response, 400, "VALIDATION_ERROR", field="parent_id")
        self.assertEqual(error["details"]["index"], 1)
        self.assertFalse(self.Partner.search([("name", "like", "Sneaky")]))

    def test_create_in_disallowed_company(self):
        """``company_id`` of a company the user is not a member of: refused, nothing written."""
        response = self.api(
            "POST",
            "/res.partner",
            json={"data": {"name": "Elsewhere", "company_id": self.other_company.id}},
        )
        self.assertApiError(response, 400, "VALIDATION_ERROR", field="company_id")
        self.assertFalse(self.Partner.search([("name", "=", "Elsewhere")]))
        response = self.api(
            "PUT",
            f"/res.partner/{self.partner.id}",
            json={"data": {"company_id": self.other_company.id}},
        )
        self.assertApiError(response, 400, "VALIDATION_ERROR", field="company_id")
        self.assertFalse(self.partner.company_id)

    def test_technical_model_is_403(self):
        for path in ("/ir.config_parameter/search", "/res.users/search", "/api.sync.client/search"):
            with self.subTest(path=path):
                self.assertApiError(self.api("GET", path), 403, "PERMISSION_DENIED")
        response = self.api(
            "POST", "/ir.config_parameter", json={"data": {"key": "x", "value": "y"}}
        )
        self.assertApiError(response, 403, "PERMISSION_DENIED")
        self.assertFalse(self.env["ir.config_parameter"].get_param("x"))
