"""Every request example of the spec's inbound sections and its curl examples, over HTTP.

sync-api-reference.md, "Inbound API Endpoints" and "Testing / cURL Examples": the bodies are
sent exactly as written (ids adapted) and the answers have exactly the documented keys, plus
``request_id``.
"""

from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import API
from .data_common import ISO_Z, ApiSyncDataCase


@tagged("post_install", "-at_install")
class TestSpecExamples(ApiSyncDataCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer = cls.Partner.create({"name": "Existing Customer", "email": "old@example.com"})

    # -- Create Record ---------------------------------------------------------------------------
    def test_create_record(self):
        body = {
            "data": {"name": "John Doe", "email": "john@example.com", "phone": "+1234567890"},
            "options": {"skip_validation": False, "return_fields": ["id", "name", "create_date"]},
        }
        result = self.assertApiOk(self.api("POST", "/res.partner", json=body), 201)
        self.assertEqual(set(result), {"success", "id", "data", "request_id"})
        partner = self.Partner.browse(result["id"])
        self.assertTrue(partner.exists())
        self.assertEqual(
            (partner.name, partner.email, partner.phone),
            ("John Doe", "john@example.com", "+1234567890"),
        )
        self.assertEqual(set(result["data"]), {"id", "name", "create_date"})
        self.assertEqual(result["data"]["id"], partner.id)
        self.assertEqual(result["data"]["name"], "John Doe")
        self.assertRegex(result["data"]["create_date"], ISO_Z)
        self.assertEqual(
            result["data"]["create_date"], partner.create_date.strftime("%Y-%m-%dT%H:%M:%SZ")
        )
        self.assertEqual(partner.create_uid, self.api_user)

    def test_create_record_with_the_placeholder_custom_field(self):
        """The example's ``custom_field`` is a placeholder: a field the model lacks is refused."""
        body = {
            "data": {
                "name": "John Doe",
                "email": "john@example.com",
                "phone": "+1234567890",
                "custom_field": "value",
            },
            "options": {"skip_validation": False, "return_fields": ["id", "name", "create_date"]},
        }
        error = self.assertApiError(
            self.api("POST", "/res.partner", json=body),
            400,
            "VALIDATION_ERROR",
            field="custom_field",
        )
        self.assertIn("custom_field", error["message"])
        self.assertFalse(self.Partner.search([("email", "=", "john@example.com")]))

    def test_create_record_skip_validation_for_allowed_client(self):
        """``skip_validation`` drops unknown fields, for a client allowed to use it only."""
        body = {
            "data": {"name": "John Doe", "email": "john@example.com", "custom_field": "value"},
            "options": {"skip_validation": True, "return_fields": ["id", "name", "create_date"]},
        }
        self.assertApiError(self.api("POST", "/res.partner", json=body), 403, "PERMISSION_DENIED")
        self.assertFalse(self.Partner.search([("email", "=", "john@example.com")]))

        self.client.allow_skip_validation = True
        token = self.client_token()
        result = self.assertApiOk(self.api("POST", "/res.partner", json=body, token=token), 201)
        partner = self.Partner.browse(result["id"])
        self.assertEqual(partner.name, "John Doe")
        # Odoo's own constraints still apply: a contact needs a name
        body = {
            "data": {"name": False, "email": "nameless@example.com"},
            "options": {"skip_validation": True},
        }
        with mute_logger("odoo.sql_db"):
            response = self.api("POST", "/res.partner", json=body, token=token)
        self.assertApiError(response, 400, "VALIDATION_ERROR")
        self.assertFalse(self.Partner.search([("email", "=", "nameless@example.com")]))

    # -- Update Record ---------------------------------------------------------------------------
    def test_update_record(self):
        body = {
            "data": {"email": "newemail@example.com", "phone": "+9876543210"},
            "options": {"partial_update": True, "trigger_workflow": False},
        }
        response = self.api("PUT", f"/res.partner/{self.customer.id}", json=body)
        result = self.assertApiOk(response)
        self.assertEqual(
            set(result), {"success", "id", "updated_fields", "write_date", "request_id"}
        )
        self.assertEqual(result["id"], self.customer.id)
        self.assertEqual(result["updated_fields"], ["email", "phone"])
        self.assertRegex(result["write_date"], ISO_Z)
        self.customer.invalidate_recordset()
        self.assertEqual(
            (self.customer.email, self.customer.phone), ("newemail@example.com", "+9876543210")
        )
        self.assertEqual(
            result["write_date"], self.customer.write_date.strftime("%Y-%m-%dT%H:%M:%SZ")
        )

    def test_update_record_with_patch(self):
        body = {"data": {"phone": "+111"}}
        result = self.assertApiOk(self.api("PATCH", f"/res.partner/{self.customer.id}", json=body))
        self.assertEqual(result["updated_fields"], ["phone"])
        self.customer.invalidate_recordset()
        self.assertEqual(self.customer.phone, "+111")
        self.assertEqual(self.customer.email, "old@example.com")  # untouched

    def test_update_return_fields(self):
        body = {"data": {"phone": "+222"}, "options": {"return_fields": ["phone", "email"]}}
        result = self.assertApiOk(self.api("PUT", f"/res.partner/{self.customer.id}", json=body))
        self.assertEqual(
            result["data"], {"id": self.customer.id, "phone": "+222", "email": "old@example.com"}
        )

    def test_update_trigger_workflow(self):
        """``trigger_workflow: false`` writes quietly (no chatter tracking), true tracks."""

        def tracked(partner):
            return self.env["mail.message"].search_count([
                ("model", "=", "res.partner"), ("res_id", "=", partner.id),
                ("tracking_value_ids", "!=", False),
            ])  # fmt: skip

        quiet = self.Partner.create({"name": "Quiet", "email": "q@example.com"})
        loud = self.Partner.create({"name": "Loud", "email": "l@example.com"})
        body = {"data": {"email": "changed@example.com"}, "options": {"trigger_workflow": False}}
        self.assertApiOk(self.api("PUT", f"/res.partner/{quiet.id}", json=body))
        body["options"]["trigger_workflow"] = True
        self.assertApiOk(self.api("PUT", f"/res.partner/{loud.id}", json=body))
        self.assertEqual(tracked(quiet), 0)
        self.assertEqual(tracked(loud), 1)

    def test_update_full_requires_required_fields(self):
        """``partial_update: false`` is a full update: every required field must be sent."""
        pricelist = self.env["product.pricelist"].create({"name": "PL"})
        body = {"data": {"sequence": 3}, "options": {"partial_update": False}}
        error = self.assertApiError(
            self.api("PUT", f"/product.pricelist/{pricelist.id}", json=body),
            400,
            "VALIDATION_ERROR",
        )
        self.assertEqual(error["details"]["field"], "name")
        self.assertEqual(error["details"]["constraint"], "required")
        self.assertIn("currency_id", error["message"])  # required, even with a default
        body = {
            "data": {"name": "PL 2", "currency_id": pricelist.currency_id.id, "sequence": 3},
            "options": {"partial_update": False},
        }
        self.assertApiOk(self.api("PUT", f"/product.pricelist/{pricelist.id}", json=body))
        self.assertEqual(pricelist.name, "PL 2")

    # -- Delete Record ---------------------------------------------------------------------------
    def test_delete_record_archive_instead(self):
        body = {"options": {"cascade": False, "archive_instead": True}}
        result = self.assertApiOk(self.api("DELETE", f"/res.partner/{self.customer.id}", json=body))
        self.assertEqual(result, {
            "success": True,
            "message": "Record archived successfully",
            "id": self.customer.id,
            "request_id": result["request_id"],
        })  # fmt: skip
        self.customer.invalidate_recordset()
        self.assertTrue(self.customer.exists())
        self.assertFalse(self.customer.active)

    def test_delete_record(self):
        result = self.assertApiOk(self.api("DELETE", f"/res.partner/{self.customer.id}"))
        self.assertEqual(result["message"], "Record deleted successfully")
        self.assertEqual(result["id"], self.customer.id)
        self.assertFalse(self.customer.exists())

    def test_delete_record_cascade(self):
        """Children that deletion would orphan: refused unless ``cascade: true``."""
        parent = self.Partner.create({
            "name": "Parent Co", "is_company": True,
            "child_ids": [(0, 0, {"name": "Child A"}), (0, 0, {"name": "Child B"})],
        })  # fmt: skip
        children = parent.child_ids
        body = {"options": {"cascade": False, "archive_instead": False}}
        error = self.assertApiError(
            self.api("DELETE", f"/res.partner/{parent.id}", json=body),
            400,
            "VALIDATION_ERROR",
            field="child_ids",
        )
        self.assertEqual(error["details"]["constraint"], "cascade")
        self.assertTrue(parent.exists())
        self.assertEqual(len(children.exists()), 2)
        body["options"]["cascade"] = True
        self.assertApiOk(self.api("DELETE", f"/res.partner/{parent.id}", json=body))
        self.assertFalse(parent.exists())
        self.assertFalse(children.exists())

    # -- Search Records --------------------------------------------------------------------------
    def test_search_records(self):
        self.Partner.create([
            {"name": "Azure Interior", "email": "azure@example.com", "customer_rank": 1},
            {"name": "Deco Addict", "email": "deco@example.com", "customer_rank": 1},
        ] + [{"name": f"Customer {i}", "customer_rank": 2} for i in range(12)])  # fmt: skip
        response = self.url_open(
            API + '/res.partner/search?domain=[["customer_rank",">",0]]&fields=name,email&limit=10',
            headers={"Authorization": f"Bearer {self.api_key}"},
        )
        result = self.assertApiOk(response)
        self.assertEqual(set(result), {"success", "count", "records", "request_id"})
        expected = self.Partner.with_user(self.api_user).search_count([("customer_rank", ">", 0)])
        self.assertGreaterEqual(expected, 14)
        self.assertEqual(result["count"], expected)
        self.assertEqual(len(result["records"]), 10)
        for record in result["records"]:
            self.assertEqual(set(record), {"id", "name", "email"})
        by_name = {
            record["name"]: record
            for record in self.assertApiOk(self.api(
                "GET", "/res.partner/search",
                params={"domain": '[["customer_rank",">",0]]', "fields": "name,email",
                        "limit": 1000},
            ))["records"]
        }  # fmt: skip
        self.assertEqual(by_name["Azure Interior"]["email"], "azure@example.com")
        self.assertEqual(by_name["Deco Addict"]["email"], "deco@example.com")

    # -- Batch Operations ------------------------------------------------------------------------
    def test_batch_operations(self):
        body = {
            "operations": [
                {
                    "method": "create",
                    "data": {"name": "Customer 1", "email": "customer1@example.com"},
                },
                {"method": "update", "id": self.customer.id, "data": {"phone": "+1234567890"}},
            ],
            "options": {"transaction": True, "continue_on_error": False},
        }
        result = self.assertApiOk(self.api("POST", "/res.partner/batch", json=body))
        self.assertTrue({"success", "results", "request_id"} <= set(result))
        created = self.Partner.search([("email", "=", "customer1@example.com")])
        self.assertEqual(len(created), 1)
        self.assertEqual(created.name, "Customer 1")
        self.assertEqual(result["results"], [
            {"index": 0, "success": True, "id": created.id},
            {"index": 1, "success": True, "id": self.customer.id},
        ])  # fmt: skip
        self.customer.invalidate_recordset()
        self.assertEqual(self.customer.phone, "+1234567890")

    # -- cURL examples ---------------------------------------------------------------------------
    def test_curl_create_customer(self):
        response = self.url_open(
            API + "/res.partner",
            data='{"data":{"name":"Test Customer","email":"test@example.com"}}',
            headers={"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"},
            method="POST",
        )
        result = self.assertApiOk(response, 201)
        partner = self.Partner.browse(result["id"])
        self.assertEqual((partner.name, partner.email), ("Test Customer", "test@example.com"))
        self.assertEqual(result["data"], {"id": partner.id, "display_name": "Test Customer"})

    def test_curl_search_products(self):
        warehouse = self.env["stock.warehouse"].search(
            [("company_id", "=", self.company.id)], limit=1
        )
        in_stock, out_of_stock = self.Product.create([
            {"name": "API Widget", "default_code": "API-W", "list_price": 12.5,
             "is_storable": True},
            {"name": "API Gadget", "default_code": "API-G", "list_price": 3.0,
             "is_storable": True},
        ])  # fmt: skip
        self.env["stock.quant"]._update_available_quantity(in_stock, warehouse.lot_stock_id, 5)
        # curl -G --data-urlencode 'domain=...' --data-urlencode 'fields=...'
        response = self.url_open(
            API + "/product.product/search?"
            "domain=%5B%5B%22qty_available%22%2C%22%3E%22%2C0%5D%5D&fields=name%2Cdefault_code%2Clist_price",
            headers={"Authorization": f"Bearer {self.api_key}"},
        )
        result = self.assertApiOk(response)
        records = {record["id"]: record for record in result["records"]}
        self.assertIn(in_stock.id, records)
        self.assertNotIn(out_of_stock.id, records)
        self.assertEqual(records[in_stock.id], {
            "id": in_stock.id, "name": "API Widget", "default_code": "API-W", "list_price": 12.5,
        })  # fmt: skip
        self.assertEqual(result["count"], len(result["records"]))
