"""Batch ``upsert``: by ``match`` (e.g. ``default_code``) or by external id.

Update the single match, create when none, 409 ``DUPLICATE_RECORD`` when several.
"""

from odoo.tests import tagged

from .data_common import ApiSyncDataCase


@tagged("post_install", "-at_install")
class TestUpsert(ApiSyncDataCase):
    def upsert(self, *operations, model="product.product", **options):
        body = {"operations": list(operations)}
        if options:
            body["options"] = options
        return self.api("POST", f"/{model}/batch", json=body)

    def products(self, code):
        return self.Product.with_context(active_test=False).search([("default_code", "=", code)])

    def test_match_creates_when_none(self):
        result = self.assertApiOk(self.upsert(
            {"method": "upsert", "match": {"default_code": "SKU-1"},
             "data": {"name": "Widget", "list_price": 9.5}},
        ))  # fmt: skip
        product = self.products("SKU-1")
        self.assertEqual(len(product), 1)
        self.assertEqual((product.name, product.list_price), ("Widget", 9.5))
        self.assertEqual(
            result["results"], [{"index": 0, "success": True, "id": product.id, "created": True}]
        )

    def test_match_updates_the_single_match(self):
        product = self.Product.create(
            {"name": "Old name", "default_code": "SKU-1", "list_price": 1.0}
        )
        result = self.assertApiOk(self.upsert(
            {"method": "upsert", "match": {"default_code": "SKU-1"},
             "data": {"name": "New name", "list_price": 2.0}},
        ))  # fmt: skip
        self.assertEqual(
            result["results"], [{"index": 0, "success": True, "id": product.id, "created": False}]
        )
        self.assertEqual((product.name, product.list_price), ("New name", 2.0))
        self.assertEqual(len(self.products("SKU-1")), 1)

    def test_match_several_is_a_conflict(self):
        self.Product.create(
            [
                {"name": "Twin A", "default_code": "SKU-1"},
                {"name": "Twin B", "default_code": "SKU-1"},
            ]
        )
        error = self.assertApiError(self.upsert(
            {"method": "upsert", "match": {"default_code": "SKU-1"}, "data": {"name": "Which?"}},
        ), 409, "DUPLICATE_RECORD")  # fmt: skip
        self.assertEqual(error["details"]["index"], 0)
        self.assertEqual(error["details"]["match"], {"default_code": "SKU-1"})
        self.assertEqual(sorted(self.products("SKU-1").mapped("name")), ["Twin A", "Twin B"])
        # with continue_on_error the other operations go through
        response = self.upsert(
            {"method": "upsert", "match": {"default_code": "SKU-1"}, "data": {"name": "Which?"}},
            {"method": "upsert", "match": {"default_code": "SKU-2"}, "data": {"name": "Fresh"}},
            transaction=False, continue_on_error=True,
        )  # fmt: skip
        results = response.json()["results"]
        self.assertEqual(results[0]["error"]["code"], "DUPLICATE_RECORD")
        self.assertTrue(results[1]["success"])
        self.assertEqual(self.products("SKU-2").name, "Fresh")

    def test_match_several_fields(self):
        self.Product.create(
            [
                {"name": "Red", "default_code": "SKU-9", "barcode": "111"},
                {"name": "Blue", "default_code": "SKU-9", "barcode": "222"},
            ]
        )
        self.assertApiOk(self.upsert(
            {"method": "upsert", "match": {"default_code": "SKU-9", "barcode": "222"},
             "data": {"list_price": 7.0}},
        ))  # fmt: skip
        self.assertEqual(self.Product.search([("barcode", "=", "222")]).list_price, 7.0)
        self.assertNotEqual(self.Product.search([("barcode", "=", "111")]).list_price, 7.0)

    def test_upsert_twice_is_idempotent(self):
        operation = {
            "method": "upsert",
            "match": {"default_code": "SKU-3"},
            "data": {"name": "Once"},
        }
        first = self.assertApiOk(self.upsert(operation))["results"][0]
        second = self.assertApiOk(self.upsert(operation))["results"][0]
        self.assertTrue(first["created"])
        self.assertFalse(second["created"])
        self.assertEqual(first["id"], second["id"])
        self.assertEqual(len(self.products("SKU-3")), 1)

    def test_bad_match(self):
        for match, field in (
            ({"nope": "x"}, "match.nope"),
            ({"qty_available": 1}, "match.qty_available"),
            ({"create_date": "garbage"}, "match"),
        ):
            with self.subTest(match=match):
                self.assertApiError(self.upsert(
                    {"method": "upsert", "match": match, "data": {"name": "Bad"}},
                ), 400, "VALIDATION_ERROR", field=field)  # fmt: skip
        self.assertFalse(self.Product.search([("name", "=", "Bad")]))

    # -- external ids ----------------------------------------------------------------------------
    def test_external_id(self):
        operation = {
            "method": "upsert",
            "external_id": "__api_sync__.sku_100",
            "data": {"name": "External", "default_code": "EXT-100"},
        }
        first = self.assertApiOk(self.upsert(operation))["results"][0]
        self.assertTrue(first["created"])
        product = self.env.ref("__api_sync__.sku_100")
        self.assertEqual(product.id, first["id"])
        self.assertEqual(product._name, "product.product")
        operation["data"] = {"name": "External renamed"}
        second = self.assertApiOk(self.upsert(operation))["results"][0]
        self.assertEqual(second, {"index": 0, "success": True, "id": product.id, "created": False})
        self.assertEqual(product.name, "External renamed")
        self.assertEqual(len(self.products("EXT-100")), 1)

    def test_external_id_without_module(self):
        operation = {"method": "upsert", "external_id": "sku_200", "data": {"name": "Bare"}}
        first = self.assertApiOk(self.upsert(operation))["results"][0]
        self.assertEqual(self.env.ref("__api_sync__.sku_200").id, first["id"])
        second = self.assertApiOk(self.upsert(operation))["results"][0]
        self.assertEqual(second["id"], first["id"])
        self.assertFalse(second["created"])

    def test_external_id_of_another_model(self):
        error = self.assertApiError(self.upsert(
            {"method": "upsert", "external_id": "base.main_company", "data": {"name": "Hijack"}},
        ), 400, "VALIDATION_ERROR", field="external_id")  # fmt: skip
        self.assertEqual(error["details"]["index"], 0)
        self.assertNotEqual(self.env.ref("base.main_company").name, "Hijack")
        self.assertFalse(self.Product.search([("name", "=", "Hijack")]))
