"""The Tactill HTTP client and mapper against the Tactill double (issue #9)."""

from odoo.tests import BaseCase, tagged

from ..tools.delivery import DeliveryError, PausingError, RetryableError
from ..tools.sale_document import build_sale_document
from ..tools.tactill_client import AmbiguousError, TactillClient
from ..tools.tactill_mapper import (
    category_body,
    customer_body,
    digest,
    product_body,
    product_patch,
    sale_body,
    tax_body,
)
from .tactill_double import TactillDouble

BACKEND = {"shop_id": "shop-1", "source_id": "odoo-1", "source_name": "Odoo"}


@tagged("post_install", "-at_install")
class TestTactillClient(BaseCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.double = TactillDouble(budget=1000, window=600).start()
        cls.addClassCleanup(cls.double.stop)

    def setUp(self):
        super().setUp()
        self.double.reset()
        self.double.budget = 1000
        self.key = self.double.add_key(test=True)
        self.limited = []
        self.client = self.make_client()

    def make_client(self, **kwargs):
        kwargs.setdefault("after_limited", self.limited.append)
        return TactillClient(self.double.url(), kwargs.pop("key", self.key), **kwargs)

    def catalog(self):
        category = self.client.call("category.create", category_body({"name": "Drinks"}))
        tax = self.client.call("tax.create", tax_body({"rate_bp": 825}))
        return category["id"], tax["id"]

    def test_product_create_and_patch(self):
        category_id, tax_id = self.catalog()
        doc = {
            "name": "Cola",
            "cost_cents": 50,
            "list_price_cents": 150,
            "barcode": "123",
            "default_code": "COLA",
            "has_variants": False,
            "template_id": 1,
            "variants": [],
        }
        body = product_body(doc, category_id, tax_id)
        product = self.client.call("product.create", body)
        self.assertTrue(product["test"])
        self.assertEqual(product["sell_price"], 150)
        self.assertEqual(product["category_id"], category_id)
        patch = product_patch(product["id"], body, {**body, "sell_price": 175})
        self.assertEqual(patch, {"id": product["id"], "sell_price": 175})
        self.assertIsNone(product_patch(product["id"], body, dict(body)))
        self.assertEqual(self.client.call("product.patch", patch)["sell_price"], 175)
        self.assertEqual(self.client.find_product("COLA")["id"], product["id"])
        self.assertEqual(digest(body), digest(dict(reversed(body.items()))))

    def test_validation_errors_carry_tactill_message(self):
        category_id, _tax_id = self.catalog()
        with self.assertRaises(DeliveryError) as caught:
            self.client.call(
                "product.create",
                {"name": "No tax", "buy_price": 1, "sell_price": 2, "category": category_id},
            )
        self.assertNotIsInstance(caught.exception, RetryableError)
        self.assertEqual(caught.exception.status, 400)
        self.assertIn("tax is required", str(caught.exception))
        with self.assertRaises(DeliveryError) as caught:
            self.client.call("tax.create", {"rate": 8.25})
        self.assertIn("integer number of cents", str(caught.exception))

    def test_revoked_key_pauses(self):
        self.catalog()
        self.double.revoke(self.key)
        with self.assertRaises(PausingError) as caught:
            self.client.call("category.create", {"name": "Food"})
        self.assertEqual(caught.exception.status, 401)

    def test_modes_are_separate(self):
        self.catalog()
        production = self.make_client(key=self.double.add_key(test=False))
        self.assertIsNone(production.find_one("category.search", "name", "Drinks"))
        self.assertTrue(self.client.find_one("category.search", "name", "Drinks")["test"])

    def test_5xx_html_and_unreachable_retry(self):
        self.double.fail_next(1, status=503)
        with self.assertRaises(RetryableError) as caught:
            self.client.call("category.create", {"name": "Food"})
        self.assertEqual(caught.exception.status, 503)
        self.double.html_next(1)
        with self.assertRaises(RetryableError) as caught:
            self.client.call("category.create", {"name": "Food"})
        self.assertIn("not JSON (text/html)", str(caught.exception))
        self.assertEqual(self.client.call("category.create", {"name": "Food"})["name"], "Food")
        unreachable = TactillClient("http://127.0.0.1:9", self.key, timeout=2)
        with self.assertRaises(RetryableError) as caught:
            unreachable.call("category.create", {"name": "Food"})
        self.assertNotIsInstance(caught.exception, AmbiguousError)

    def test_429_names_the_moment(self):
        self.double.budget = 2
        self.catalog()
        with self.assertRaises(RetryableError) as caught:
            self.client.call("category.create", {"name": "Food"})
        self.assertEqual(caught.exception.status, 429)
        self.assertGreater(caught.exception.seconds, 500)
        self.assertLessEqual(caught.exception.seconds, 600)
        self.assertEqual(self.limited, [caught.exception.seconds])
        limited = [r for r in self.double.requests if r["status"] == 429]
        self.assertEqual(len(limited), 1)

    def test_timeout_after_store_then_lookup(self):
        category_id, tax_id = self.catalog()
        self.client.call("product.create", {"name": "Cola", "buy_price": 1, "sell_price": 2,
                                            "category": category_id, "tax": tax_id,
                                            "reference": "COLA"})  # fmt: skip
        client = self.make_client(timeout=0.5)
        self.double.hang_next(1, path="/v0/sales")
        doc = build_sale_document(
            {"uid": "uuid-1", "order_id": 1, "reference": "Order 1", "amount_total": 3.0,
             "amount_tax": 0.0, "opened_at": "2026-01-01T10:00:00Z",
             "closed_at": "2026-01-01T10:01:00Z"},
            [{"id": 1, "product_id": 7, "template_id": 7, "product_name": "Cola", "qty": 2.0,
              "price_unit": 1.5, "price_subtotal": 3.0, "price_subtotal_incl": 3.0}],
            [{"id": 1, "method_id": 1, "method_name": "Cash", "method_type": "cash",
              "amount": 3.0}],
        )  # fmt: skip
        product = self.client.find_product("COLA")
        body = sale_body(doc, BACKEND, {7: {"product_id": product["id"]}}, number=1)
        with self.assertRaises(AmbiguousError):
            client.call("sale.create", body)
        self.double.release.set()
        found = self.client.find_sale("uuid-1")
        self.assertEqual(found["total"], 300)
        self.assertEqual(len(self.double.items("sales")), 1)

    def test_customer_and_pagination(self):
        customer = self.client.call("customer.create", customer_body(
            {"ref": "C-1", "name": "Jane Q Buyer", "email": "j@example.com", "phone": None}
        ))  # fmt: skip
        self.assertEqual((customer["first_name"], customer["last_name"]), ("Jane Q", "Buyer"))
        self.assertEqual(self.client.find_customer("C-1")["id"], customer["id"])
        for index in range(5):
            self.client.call("category.create", {"name": f"C{index}"})
        before = self.client.requests
        names = [item["name"] for item in self.client.iterate("category.search", limit=2)]
        self.assertEqual(names, [f"C{index}" for index in range(5)])
        self.assertEqual(self.client.requests - before, 3)

    def test_paths_are_overridable(self):
        client = self.make_client(paths={"category.create": "POST /v1/categories"})
        with self.assertRaises(DeliveryError) as caught:
            client.call("category.create", {"name": "Food"})
        self.assertEqual(caught.exception.status, 404)
        self.assertEqual(self.double.requests[-1]["path"], "/v1/categories")
        with self.assertRaises(DeliveryError):
            self.make_client(paths={"category.create": "nonsense"}).call("category.create", {})
