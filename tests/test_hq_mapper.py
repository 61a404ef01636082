"""HQ mapping on its own (issue #10): awkward amounts, sums to the cent, bodies HQ accepts."""

import copy

import requests

from odoo.tests import BaseCase, TransactionCase, tagged

from ..tools import hq_mapper
from ..tools.sale_document import to_cents
from .hq_double import HqDouble
from .pos_common import PosFixtures

STATE = {
    "id": 1,
    "name": "State Tax",
    "rate_bp": 825,
    "price_include": False,
    "sequence": 1,
    "include_base_amount": False,
}
CITY = {
    "id": 2,
    "name": "City Tax",
    "rate_bp": 500,
    "price_include": False,
    "sequence": 2,
    "include_base_amount": False,
}
VAT_INCL = {
    "id": 3,
    "name": "VAT 8.25% incl.",
    "rate_bp": 825,
    "price_include": True,
    "sequence": 1,
    "include_base_amount": False,
}


def line(line_id, qty, unit, discount, subtotal, total, taxes):
    """A sale document line; ``taxes`` = [(tax, amount_cents)]."""
    return {
        "id": line_id,
        "product_id": 100 + line_id,
        "template_id": 200 + line_id,
        "product_name": f"Product {line_id}",
        "default_code": f"P{line_id}",
        "barcode": None,
        "qty": qty,
        "qty_milli": round(qty * 1000),
        "unit_price_cents": unit,
        "discount_percent": discount,
        "subtotal_cents": subtotal,
        "total_cents": total,
        "tax_cents": total - subtotal,
        "discount_cents": 0,
        "taxes": [{**tax, "amount_cents": amount} for tax, amount in taxes],
    }


def document(lines, payments, total, tax):
    return {
        "uid": "uid-1",
        "order_id": 1,
        "reference": "Order 00001-001-0001",
        "name": "Shop/0001",
        "currency": "EUR",
        "customer": None,
        "is_refund": False,
        "lines": lines,
        "payments": payments,
        "amount_total_cents": total,
        "amount_tax_cents": tax,
        "amount_untaxed_cents": total - tax,
        "change_cents": 0,
    }


def payment(pid, method_id, amount, is_change=False):
    return {
        "id": pid,
        "method_id": method_id,
        "method_name": f"Method {method_id}",
        "method_type": "cash" if method_id == 1 else "bank",
        "amount_cents": amount,
        "is_change": is_change,
        "reference": "",
    }


@tagged("post_install", "-at_install")
class TestHqMapper(BaseCase):
    """Pure mapping tests; the bodies are also posted to the HQ double, which checks them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.double = HqDouble().start()
        cls.addClassCleanup(cls.double.stop)

    def setUp(self):
        super().setUp()
        self.double.reset()
        answer = requests.post(
            self.double.url + "/api/v1/auth/login",
            json={"username": "manager", "pin": "1234"},
            timeout=5,
        )
        self.headers = {"Authorization": "Bearer " + answer.json()["data"]["accessToken"]}
        self.products = {}

    def map(self, doc):
        for item in doc["lines"]:
            hq = self.double.add_product(name=item["product_name"], sku=item["default_code"])
            self.products[item["product_id"]] = hq["id"]
        return hq_mapper.sale_body(
            doc,
            receipt=doc["reference"],
            store_id=self.double.store["id"],
            terminal_id="T01",
            cashier_id=self.double.cashier["id"],
            product_ids=self.products,
            tenders={1: "CASH", 2: "CARD"},
        )

    def post(self, body):
        response = requests.post(
            self.double.url + "/api/v1/sales", json=body, headers=self.headers, timeout=5
        )
        self.assertEqual(response.status_code, 201, response.text)
        return response.json()["data"]

    def assertSums(self, body, doc):
        self.assertEqual(body["grandTotal"], doc["amount_total_cents"])
        self.assertEqual(sum(i["lineTotal"] for i in body["items"]), body["grandTotal"])
        self.assertEqual(body["taxTotal"], doc["amount_tax_cents"])
        self.assertEqual(sum(i["taxAmount"] for i in body["items"]), body["taxTotal"])
        self.assertEqual(body["subtotal"] + body["taxTotal"], body["grandTotal"])
        for item in body["items"]:
            self.assertEqual(sum(t["taxAmount"] for t in item["taxes"]), item["taxAmount"])
            for key in (
                "quantity",
                "unitPrice",
                "taxRate",
                "taxAmount",
                "discountAmount",
                "lineTotal",
            ):
                self.assertIs(type(item[key]), int, key)

    def test_fractional_quantities_two_taxes_discount(self):
        """Three lines at 0.333 x 10.00, 15 % off, 8.25 % + 5 %: per-line totals are 3.21 but
        the order's total is 9.62, the balanced document puts the cent on the last line."""
        taxes = [(STATE, 23), (CITY, 14)]
        doc = document(
            [
                line(1, 0.333, 1000, 15, 283, 321, taxes),
                line(2, 0.333, 1000, 15, 283, 321, taxes),
                line(3, 0.333, 1000, 15, 283, 320, [(STATE, 23), (CITY, 13)]),
            ],
            [payment(1, 1, 1000), payment(2, 1, -38, is_change=True)],
            962,
            113,
        )
        body = self.map(doc)
        self.assertSums(body, doc)
        item = body["items"][0]
        self.assertEqual(item["quantity"], 333)
        self.assertEqual(item["taxRate"], 1325)
        self.assertEqual([t["rate"] for t in item["taxes"]], [825, 500])
        self.assertEqual([t["sortOrder"] for t in item["taxes"]], [0, 1])
        self.assertEqual(item["unitPrice"], 1000)
        self.assertEqual(item["discountAmount"], 50)  # 333 x 10.00 = 3.33, 3.33 - 2.83
        self.assertEqual(body["discountTotal"], 150)
        self.assertEqual(body["payments"], [{"method": "CASH", "amount": 1000, "reference": None}])
        sale = self.post(body)
        self.assertEqual(sale["changeAmount"], 38)

    def test_tax_included_price_and_split_payment(self):
        """10.99 tax included (8.25 %) x 3 and 2.5 kg at 4.00 + 5 %: unit prices tax excluded."""
        doc = document(
            [
                line(1, 3, 1099, 0, 3046, 3297, [(VAT_INCL, 251)]),
                line(2, 2.5, 400, 0, 1000, 1050, [(CITY, 50)]),
            ],
            [payment(1, 2, 2000), payment(2, 1, 2500), payment(3, 1, -153, is_change=True)],
            4347,
            301,
        )
        body = self.map(doc)
        self.assertSums(body, doc)
        self.assertEqual(body["items"][0]["unitPrice"], 1015)  # 30.46 / 3
        self.assertEqual(body["items"][1]["quantity"], 2500)
        self.assertEqual(sum(p["amount"] for p in body["payments"]) - body["grandTotal"], 153)
        self.post(body)

    def test_unbalanced_document_and_order_level_tax_rounding(self):
        """Lines that do not sum to the order (globally rounded taxes): the residue goes on the
        largest line, and a tax cent moves inside a line, never the order's total."""
        taxes = [(STATE, 8)]
        lines = [line(n, 1, 99, 0, 99, 107, taxes) for n in (1, 2, 3)]
        for total, tax in ((320, 23), (321, 25)):
            with self.subTest(total=total, tax=tax):
                self.double.reset()
                self.setUp()
                doc = document(copy.deepcopy(lines), [payment(1, 2, total)], total, tax)
                body = self.map(doc)
                self.assertSums(body, doc)
                self.post(body)

    def test_balancing_cent_on_an_untaxed_line(self):
        """The document balanced totals and subtotals apart: an untaxed line got a tax cent.
        HQ gets it on a taxed line, the line totals and the order's tax stay as they are."""
        doc = document(
            [line(1, 1, 500, 0, 500, 501, []), line(2, 2, 1000, 0, 2000, 2165, [(STATE, 165)])],
            [payment(1, 2, 2666)],
            2666,
            166,
        )
        body = self.map(doc)
        self.assertSums(body, doc)
        self.assertEqual([i["lineTotal"] for i in body["items"]], [501, 2165])
        self.assertEqual([i["taxAmount"] for i in body["items"]], [0, 166])
        self.post(body)

    def test_refund_negative_quantities(self):
        doc = document(
            [line(1, -2, 500, 0, -1000, -1083, [(STATE, -83)])], [payment(1, 1, -1083)], -1083, -83
        )
        doc["is_refund"] = True
        body = self.map(doc)
        self.assertSums(body, doc)
        self.assertEqual(body["items"][0]["quantity"], -2000)
        self.assertEqual(body["items"][0]["unitPrice"], 500)
        self.post(body)
        original = copy.deepcopy(doc)
        for item in original["lines"]:
            item["qty_milli"] = -item["qty_milli"]
        original["amount_total_cents"] = 1083
        self.assertTrue(hq_mapper.is_full_refund(doc, original))
        original["lines"][0]["qty_milli"] = 3000
        self.assertFalse(hq_mapper.is_full_refund(doc, original))

    def test_mapping_errors(self):
        doc = document([line(1, 1, 100, 0, 100, 100, [])], [payment(1, 3, 100)], 100, 0)
        with self.assertRaisesRegex(hq_mapper.MappingError, "has no HQ tender"):
            self.map(doc)
        with self.assertRaisesRegex(hq_mapper.MappingError, "neither an internal reference"):
            hq_mapper.product_body({"name": "Bare"}, {"default_code": False, "barcode": False})

    def test_product_and_tax_group_bodies(self):
        compound = {**STATE, "include_base_amount": True}
        body = hq_mapper.tax_group_body([CITY, compound])
        self.assertEqual(body["name"], "State Tax + City Tax")
        self.assertEqual(
            [(r["rate"], r["isCompound"]) for r in body["rates"]], [(825, False), (500, True)]
        )
        product = {
            "name": "Mug",
            "list_price_cents": 1250,
            "cost_cents": 400,
            "is_storable": True,
            "description": False,
        }
        body = hq_mapper.product_body(
            product,
            {"default_code": "MUG", "barcode": "400123", "price_extra_cents": 100},
            department_id="d",
            tax_group_id="t",
        )
        self.assertEqual(body["sellPrice"], 1350)
        self.assertEqual(body["costPrice"], 400)
        self.assertIs(body["trackStock"], True)
        self.assertIsNone(body["description"])


@tagged("post_install", "-at_install")
class TestHqMapperOdooOrders(PosFixtures, TransactionCase):
    """Real POS orders paid through ``sync_from_ui``, read by the extractor and mapped: HQ's
    ``grandTotal`` is Odoo's ``amount_total`` in cents and the double accepts the body."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_pos()
        cls.double = HqDouble().start()
        cls.addClassCleanup(cls.double.stop)
        cls.gum = cls.make_product("Gum", 1.0, [cls.tax_825, cls.tax_5])
        cls.wine = cls.make_product("Wine", 10.99, [cls.tax_10_incl])
        cls.cheese = cls.make_product("Cheese", 7.45, [cls.tax_825])

    def map_and_post(self, order):
        doc = order._api_sync_sale_document()
        self.double.reset()
        products = {
            line["product_id"]: self.double.add_product(
                name=line["product_name"], sku=f"P{line['product_id']}"
            )["id"]
            for line in doc["lines"]
        }
        body = hq_mapper.sale_body(
            doc,
            receipt=doc["reference"],
            store_id=self.double.store["id"],
            terminal_id="T1",
            cashier_id=self.double.cashier["id"],
            product_ids=products,
            tenders={self.cash_pm.id: "CASH", self.card_pm.id: "CARD"},
        )
        self.assertEqual(body["grandTotal"], to_cents(order.amount_total))
        self.assertEqual(sum(i["lineTotal"] for i in body["items"]), body["grandTotal"])
        self.assertEqual(body["taxTotal"], to_cents(order.amount_tax))
        login = requests.post(
            self.double.url + "/api/v1/auth/login",
            json={"username": "manager", "pin": "1234"},
            timeout=10,
        )
        response = requests.post(
            self.double.url + "/api/v1/sales",
            json=body,
            timeout=10,
            headers={"Authorization": "Bearer " + login.json()["data"]["accessToken"]},
        )
        self.assertEqual(response.status_code, 201, response.text)
        return body

    def test_three_lines_at_0333_two_taxes_15_percent_off(self):
        order = self.pay_order([(self.gum, 0.333, 15.0)] * 3)
        body = self.map_and_post(order)
        self.assertEqual([i["quantity"] for i in body["items"]], [333, 333, 333])
        self.assertEqual({i["taxRate"] for i in body["items"]}, {1325})
        self.assertGreater(body["discountTotal"], 0)

    def test_tax_included_prices_split_payment_and_change(self):
        order = self.pay_order(
            [(self.wine, 3), (self.cheese, 1.25, 10.0), (self.gum, 2)],
            payments=[(self.card_pm, 20.0), (self.cash_pm, 50.0)],
        )
        body = self.map_and_post(order)
        wine = body["items"][0]
        self.assertEqual(wine["lineTotal"], 3297)  # 3 x 10.99, tax included
        self.assertEqual(wine["unitPrice"], 999)  # 10.99 / 1.10, tax excluded
        self.assertEqual(sum(p["amount"] for p in body["payments"]), 7000)
