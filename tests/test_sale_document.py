"""The neutral sale and product documents: pure functions on plain values, and the extractors
on real POS orders (issue #9: totals equal Odoo's ``amount_total`` in cents, lines sum to it)."""

from odoo.tests import TransactionCase, tagged

from ..tools.product_document import build_product_document
from ..tools.sale_document import (
    build_sale_document,
    distribute,
    rate_basis_points,
    to_cents,
)
from .pos_common import PosFixtures


def _header(**values):
    return {"uid": "u-1", "order_id": 1, "reference": "Order 00001-001-0001",
            "opened_at": "2026-01-01T10:00:00Z", "closed_at": "2026-01-01T10:05:00Z",
            **values}  # fmt: skip


def _tax(tax_id, percent, base, **values):
    return {"id": tax_id, "name": f"Tax {percent}", "amount": percent,
            "tax_amount": base * percent / 100, **values}  # fmt: skip


@tagged("post_install", "-at_install")
class TestSaleDocumentPure(TransactionCase):
    """Plain dicts in, document out: no ORM involved."""

    def test_cents_and_rates(self):
        self.assertEqual(to_cents(2.675), 268)  # the float 2.675 is 2.67499999...
        self.assertEqual(to_cents(-1.005), -101)  # half away from zero, as Odoo rounds
        self.assertEqual(to_cents(0.125, 0.05), 15)  # 5-cent currency rounding
        self.assertEqual(to_cents(12), 1200)
        self.assertEqual(rate_basis_points(8.25), 825)
        self.assertEqual(rate_basis_points(5.5), 550)
        self.assertEqual(distribute([5, 5, 5], 14), [4, 5, 5])
        self.assertEqual(distribute([-3, 10, 4], 13), [-3, 11, 5])
        self.assertEqual(distribute([], 0), [])

    def test_three_lines_at_0333_two_taxes(self):
        """Lines rounded one by one sum to 1.14, the order (rounded globally) to 1.13: the
        residue goes on lines, taxes of each line follow its tax amount."""
        line_excl = 0.333
        line_incl = line_excl * 1.1325
        lines = [
            {"id": i, "product_id": 10, "template_id": 20, "product_name": "Gum",
             "qty": 1.0, "price_unit": 0.333, "price_subtotal": line_excl,
             "price_subtotal_incl": line_incl,
             "taxes": [_tax(1, 8.25, line_excl, sequence=1), _tax(2, 5.0, line_excl, sequence=2)]}
            for i in (1, 2, 3)
        ]  # fmt: skip
        amount_total = round(3 * line_incl, 2)  # 1.13
        amount_tax = round(3 * (line_incl - line_excl), 2)  # 0.13
        payments = [{"id": 1, "method_id": 1, "method_name": "Cash", "method_type": "cash",
                     "amount": amount_total}]  # fmt: skip
        doc = build_sale_document(
            _header(amount_total=amount_total, amount_tax=amount_tax), lines, payments
        )
        self.assertEqual(doc["amount_total_cents"], 113)
        self.assertEqual(doc["amount_tax_cents"], 13)
        self.assertEqual(doc["amount_untaxed_cents"], 100)
        self.assertEqual(sum(line["total_cents"] for line in doc["lines"]), 113)
        self.assertEqual(sum(line["subtotal_cents"] for line in doc["lines"]), 100)
        self.assertEqual(sum(line["tax_cents"] for line in doc["lines"]), 13)
        for line in doc["lines"]:
            self.assertEqual(line["tax_cents"], line["total_cents"] - line["subtotal_cents"])
            self.assertEqual(sum(t["amount_cents"] for t in line["taxes"]), line["tax_cents"])
            self.assertEqual([t["rate_bp"] for t in line["taxes"]], [825, 500])
            self.assertEqual(line["qty_milli"], 1000)
            self.assertEqual(line["unit_price_cents"], 33)
        self.assertEqual(doc["payments"][0]["amount_cents"], 113)
        self.assertEqual(doc["change_cents"], 0)

    def test_tax_included_price_with_15_percent_discount(self):
        lines = [{
            "id": 1, "product_id": 10, "template_id": 20, "product_name": "Wine",
            "qty": 3.0, "price_unit": 10.0, "discount": 15.0,
            "price_subtotal": 25.5 / 1.1, "price_subtotal_incl": 25.5,
            "price_subtotal_incl_undiscounted": 30.0,
            "taxes": [_tax(3, 10.0, 25.5 / 1.1, price_include=True)],
        }]  # fmt: skip
        payments = [
            {"id": 1, "method_id": 2, "method_name": "Card", "method_type": "bank", "amount": 5},
            {"id": 2, "method_id": 1, "method_name": "Cash", "method_type": "cash", "amount": 30},
            {"id": 3, "method_id": 1, "method_name": "Cash", "method_type": "cash",
             "amount": -9.5, "is_change": True},
        ]  # fmt: skip
        doc = build_sale_document(_header(amount_total=25.5, amount_tax=2.32), lines, payments)
        [line] = doc["lines"]
        self.assertEqual(line["total_cents"], 2550)
        self.assertEqual(line["subtotal_cents"], 2318)
        self.assertEqual(line["tax_cents"], 232)
        self.assertEqual(line["discount_cents"], 450)
        self.assertEqual(line["unit_price_cents"], 1000)
        self.assertTrue(line["taxes"][0]["price_include"])
        self.assertEqual(doc["discount_total_cents"], 450)
        self.assertEqual(doc["change_cents"], 950)
        self.assertEqual(sum(p["amount_cents"] for p in doc["payments"]), 2550)

    def test_product_document(self):
        doc = build_product_document(
            {"id": 5, "name": "Shirt", "list_price": 19.99, "standard_price": 7.5,
             "active": True, "available_in_pos": True,
             "category": {"model": "pos.category", "id": 2, "name": "Clothes"},
             "taxes": [{"id": 1, "name": "VAT 20%", "amount": 20.0, "price_include": True}]},
            [{"id": 51, "default_code": "SH-S", "barcode": "111", "attributes": [("Size", "S")],
              "price_extra": 0.0, "standard_price": 7.5},
             {"id": 52, "default_code": "SH-M", "barcode": "222", "attributes": [("Size", "M")],
              "price_extra": 1.005, "standard_price": 8.0}],
        )  # fmt: skip
        self.assertEqual(doc["list_price_cents"], 1999)
        self.assertTrue(doc["has_variants"])
        self.assertEqual([v["price_cents"] for v in doc["variants"]], [1999, 2100])
        self.assertEqual(doc["variants"][1]["attributes"], [{"attribute": "Size", "value": "M"}])
        self.assertEqual(doc["taxes"][0]["rate_bp"], 2000)
        self.assertEqual(doc["cost_cents"], 750)


@tagged("post_install", "-at_install")
class TestSaleDocumentExtractor(PosFixtures, TransactionCase):
    """Real POS orders, paid through ``sync_from_ui``, read by the extractors."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_pos()
        cls.gum = cls.make_product("Gum", 3.99, taxes=(cls.tax_825, cls.tax_5), default_code="GUM")
        cls.wine = cls.make_product("Wine", 10.0, taxes=(cls.tax_10_incl,), barcode="3760001")
        cls.customer = cls.env["res.partner"].create(
            {"name": "Jane Buyer", "email": "jane@example.com", "ref": "C-42"}
        )

    def assert_balanced(self, order, doc):
        self.assertEqual(doc["amount_total_cents"], to_cents(order.amount_total))
        self.assertEqual(doc["amount_tax_cents"], to_cents(order.amount_tax))
        self.assertEqual(sum(line["total_cents"] for line in doc["lines"]),
                         doc["amount_total_cents"])  # fmt: skip
        self.assertEqual(sum(line["tax_cents"] for line in doc["lines"]), doc["amount_tax_cents"])
        for line in doc["lines"]:
            self.assertEqual(sum(t["amount_cents"] for t in line["taxes"]), line["tax_cents"])

    def test_awkward_order(self):
        order = self.pay_order(
            [(self.gum, 0.333), (self.gum, 0.333), (self.gum, 0.333), (self.wine, 3, 15.0)],
            customer=self.customer,
        )
        self.assertEqual(order.state, "paid")
        doc = order._api_sync_sale_document()
        self.assert_balanced(order, doc)
        # Odoo's own tax engine on the stored order gives the same total
        order._compute_prices()
        self.assertEqual(doc["amount_total_cents"], to_cents(order.amount_total))
        self.assertEqual(doc["uid"], order.uuid)
        self.assertEqual(doc["reference"], order.pos_reference)
        self.assertEqual(doc["config_name"], "Shop 1")
        self.assertRegex(doc["closed_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(doc["customer"]["ref"], "C-42")
        gum, wine = doc["lines"][0], doc["lines"][3]
        self.assertEqual(gum["qty_milli"], 333)
        self.assertEqual(gum["default_code"], "GUM")
        self.assertEqual([t["rate_bp"] for t in gum["taxes"]], [825, 500])
        self.assertEqual(wine["discount_percent"], 15.0)
        self.assertEqual(wine["unit_price_cents"], 1000)
        # 25.50 as the line computed it, give or take the order's rounding residue put on it
        self.assertAlmostEqual(wine["total_cents"], 2550, delta=1)
        self.assertEqual(wine["discount_cents"], 450)
        self.assertEqual(wine["barcode"], "3760001")
        self.assertEqual(doc["discount_total_cents"], 450)

    def test_cash_card_and_change(self):
        order = self.pay_order(
            [(self.wine, 1), (self.gum, 2)],
            payments=[(self.card_pm, 5.0), (self.cash_pm, 20.0)],
        )
        doc = order._api_sync_sale_document()
        self.assert_balanced(order, doc)
        self.assertEqual({p["method_type"] for p in doc["payments"]}, {"cash", "bank"})
        change = [p for p in doc["payments"] if p["is_change"]]
        self.assertEqual(len(change), 1)
        self.assertEqual(doc["change_cents"], -change[0]["amount_cents"])
        self.assertGreater(doc["change_cents"], 0)
        self.assertEqual(sum(p["amount_cents"] for p in doc["payments"]),
                         doc["amount_total_cents"])  # fmt: skip

    def test_refund(self):
        original = self.pay_order([(self.wine, 2), (self.gum, 1)])
        refund = self.pay_order([(self.wine, -2), (self.gum, -1)], refund_of=original)
        doc = refund._api_sync_sale_document()
        self.assertTrue(doc["is_refund"])
        self.assertEqual(doc["refunded_order_uid"], original.uuid)
        self.assertEqual(doc["amount_total_cents"], -original._api_sync_sale_document()[
            "amount_total_cents"])  # fmt: skip
        self.assertTrue(all(line["qty"] < 0 for line in doc["lines"]))
        self.assert_balanced(refund, doc)

    def test_product_document_of_a_template_with_variants(self):
        size = self.env["product.attribute"].create(
            {"name": "Size", "value_ids": [(0, 0, {"name": "S"}), (0, 0, {"name": "M"})]}
        )
        template = self.env["product.template"].create({
            "name": "Shirt", "list_price": 19.99, "available_in_pos": True,
            "pos_categ_ids": [(6, 0, self.pos_categ.ids)],
            "taxes_id": [(6, 0, self.tax_825.ids)],
            "attribute_line_ids": [(0, 0, {"attribute_id": size.id,
                                           "value_ids": [(6, 0, size.value_ids.ids)]})],
        })  # fmt: skip
        medium = template.attribute_line_ids.product_template_value_ids.filtered(
            lambda v: v.name == "M"
        )
        medium.price_extra = 2.5
        doc = template._api_sync_product_document()
        self.assertEqual(doc["category"], {"model": "pos.category", "id": self.pos_categ.id,
                                           "name": "Drinks"})  # fmt: skip
        self.assertEqual(len(doc["variants"]), 2)
        self.assertEqual(sorted(v["price_cents"] for v in doc["variants"]), [1999, 2249])
        self.assertEqual(doc["taxes"][0]["rate_bp"], 825)
        template.active = False
        self.assertFalse(template._api_sync_product_document()["active"])
