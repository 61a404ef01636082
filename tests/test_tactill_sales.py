"""POS orders to Tactill through the outbox (issue #9): the sale, its dependencies, refunds,
errors, retries and exactly once."""

from odoo.tests import tagged

from ..tools.sale_document import to_cents
from .tactill_common import TactillCase


@tagged("post_install", "-at_install")
class TestTactillSales(TactillCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.gum = cls.make_product("Gum", 3.99, taxes=(cls.tax_825, cls.tax_5),
                                   default_code="GUM")  # fmt: skip
        cls.wine = cls.make_product("Wine", 10.0, taxes=(cls.tax_10_incl,), barcode="3760001",
                                    pos_categ_ids=[(6, 0, cls.pos_categ.ids)])  # fmt: skip
        cls.customer = cls.env["res.partner"].create(
            {"name": "Jane Buyer", "email": "jane@example.com", "ref": "C-42"}
        )

    def test_order_two_lines_discount_two_taxes_cash_card_change(self):
        order = self.pay_order(
            [(self.gum, 2), (self.wine, 3, 15.0)],
            payments=[(self.card_pm, 10.0), (self.cash_pm, 30.0)],
            customer=self.customer,
        )
        self.dispatch()
        [sale] = self.double.items("sales")
        total = to_cents(order.amount_total)
        self.assertEqual(sale["total"], total)
        self.assertEqual(sum(line["total"] for line in sale["lines"]), total)
        self.assertEqual(sale["total_tax"], to_cents(order.amount_tax))
        self.assertEqual(sale["original_id"], order.uuid)
        self.assertEqual(sale["name"], order.pos_reference)
        self.assertEqual((sale["state"], sale["payment_status"], sale["total_rest"]),
                         ("CLOSED", "FULL", 0))  # fmt: skip
        self.assertEqual((sale["shop_id"], sale["source_id"]), ("shop-1", "odoo-test"))
        gum, wine = sale["lines"]
        self.assertEqual([t["rate"] for t in gum["taxes"]], [825, 500])
        self.assertEqual(wine["discount"], 450)
        self.assertEqual(sale["total_discount"], 450)
        self.assertEqual(sale["discounts"][0]["type"], "PERCENTAGE")
        methods = sorted((p["payment_method_type"], p["type"]) for p in sale["payments"])
        self.assertEqual(methods, [("CARD", "IN"), ("CASH", "IN"), ("CASH", "OUT")])
        change = [p for p in sale["payments"] if p["type"] == "OUT"][0]
        self.assertEqual(change["amount"], 4000 - total)
        # dependencies were bound in the same attempt
        self.assertEqual(len(self.double.items("products")), 2)
        self.assertEqual(len(self.double.items("taxes")), 2)  # first tax of each product
        [customer] = self.double.items("customers")
        self.assertEqual(customer["original_id"], "C-42")
        self.assertEqual(sale["customer_id"], customer["id"])
        self.assertEqual(self.bound(order), sale["id"])

    def test_orders_through_sync_from_ui_each_pushed_once(self):
        orders = [self.pay_order([(self.gum, n + 1)]) for n in range(3)]
        self.dispatch()
        self.assertEqual(sorted(s["original_id"] for s in self.double.items("sales")),
                         sorted(o.uuid for o in orders))  # fmt: skip
        self.assertEqual(len(self.double.writes("/v0/sales")), 3)
        # paid again / closed later: an unchanged sale sends nothing
        orders[0].write({"state": "done"})
        self.dispatch()
        self.assertEqual(len(self.double.writes("/v0/sales")), 3)

    def test_refund_targets_the_original(self):
        original = self.pay_order([(self.wine, 2), (self.gum, 1)])
        self.dispatch()
        refund = self.pay_order([(self.wine, -2)], refund_of=original)
        self.dispatch()
        sales = {s["original_id"]: s for s in self.double.items("sales")}
        self.assertEqual(sales[refund.uuid]["target_id"], sales[original.uuid]["id"])
        self.assertEqual(sales[refund.uuid]["total"], to_cents(refund.amount_total))
        self.assertLess(sales[refund.uuid]["total"], 0)
        self.assertEqual(sales[refund.uuid]["refunded_status"], "PARTIAL")
        self.assertEqual(sales[original.uuid]["refund_status"], "PARTIAL")

    def test_503_then_recovery(self):
        order = self.pay_order([(self.gum, 1)])
        self.dispatch()  # products first: only the sale meets the failure
        self.double.items("sales")  # nothing yet asserted
        self.assertTrue(self.bound(order))
        second = self.pay_order([(self.gum, 2)])
        self.double.fail_next(2, status=503, path="/v0/sales")
        self.dispatch()
        [delivery] = self.deliveries(state="retry")
        self.assertEqual(delivery.last_status, 503)
        self.assertEqual(delivery.event_id.res_id, second.id)
        for _attempt in range(2):
            self.make_due(delivery)
            self.dispatch()
        self.assertEqual(delivery.state, "done")
        self.assertEqual(len(self.double.items("sales")), 2)

    def test_timeout_after_store_no_duplicate(self):
        self.pay_order([(self.gum, 1)])
        self.dispatch()
        order = self.pay_order([(self.gum, 3)])
        self.double.hang_for = 10
        self.double.hang_next(1, path="/v0/sales")
        self.dispatch()
        self.double.release.set()
        [delivery] = self.deliveries(state="retry")
        self.assertIn("no answer", delivery.last_error)
        self.make_due(delivery)
        self.dispatch()
        self.assertEqual(delivery.state, "done")
        mine = [s for s in self.double.items("sales") if s["original_id"] == order.uuid]
        self.assertEqual(len(mine), 1, "stored once")
        self.assertEqual(self.bound(order), mine[0]["id"])

    def test_429_in_the_middle_of_a_run(self):
        self.double.budget = 4  # category, tax, product, then one sale
        orders = [self.pay_order([(self.gum, n + 1)]) for n in range(3)]
        self.dispatch()
        retrying = self.deliveries(state="retry")
        self.assertTrue(retrying)
        self.assertIn("429", retrying[0].last_error)
        self.assertEqual(self.double.limited, 1, "one 429, then nothing before the moment")
        budget = self.env["api.sync.rate.budget"].search([("backend_id", "=", self.backend.id)])
        self.assertGreater(budget.blocked_until, 0)
        # the window passes: the double resets, the budget lets requests go again
        self.double.window_start = 0
        budget.blocked_until = 0
        self.make_due(retrying)
        self.dispatch()
        self.assertEqual(sorted(s["original_id"] for s in self.double.items("sales")),
                         sorted(o.uuid for o in orders))  # fmt: skip

    def test_key_revoked_pauses_backend(self):
        self.pay_order([(self.gum, 1)])
        self.dispatch()
        self.double.revoke(self.key)
        self.pay_order([(self.gum, 2)])
        self.dispatch()
        self.assertEqual(self.backend.state, "paused")
        self.assertIn("401", self.backend.disabled_reason)
        [held] = self.deliveries(state="on_hold")
        self.assertIn("API key refused", held.last_error)
        activities = self.env["mail.activity"].search(
            [("res_model", "=", self.backend._name), ("res_id", "=", self.backend.id)]
        )
        self.assertTrue(activities)
        self.assertIn(self.env.ref("base.user_admin"), activities.user_id)
        # a new key, resumed: the held sale goes
        self.backend.api_key = self.double.add_key(test=True)
        self.backend.state = "active"
        self.dispatch()
        self.assertEqual(held.state, "done")

    def test_html_answer_and_unmappable_product(self):
        untaxed = self.make_product("Loose candy", 0.2)
        bad_order = self.pay_order([(untaxed, 5)])
        good_order = self.pay_order([(self.gum, 1)])
        self.dispatch()
        dead = self.deliveries(state="dead")
        self.assertEqual(dead.filtered(lambda d: d.event_id.model == "pos.order").event_id.res_id,
                         bad_order.id)  # fmt: skip
        self.assertIn("Loose candy has no sales tax", " ".join(dead.mapped("last_error")))
        self.assertTrue(self.bound(good_order))
        # HTML instead of JSON: a clear error, retried
        third = self.pay_order([(self.gum, 4)])
        self.double.html_next(1, path="/v0/sales")
        self.dispatch()
        [retrying] = self.deliveries(state="retry")
        self.assertIn("not JSON (text/html)", retrying.last_error)
        self.make_due(retrying)
        self.dispatch()
        self.assertTrue(self.bound(third))

    def test_test_connection_tells_the_key_mode(self):
        self.pay_order([(self.gum, 1)])
        self.dispatch()
        action = self.backend.action_test_connection()
        self.assertEqual(action["params"]["type"], "success")
        self.assertEqual(self.backend.key_mode, "test")
        self.backend.api_key = "v5_wrong"
        action = self.backend.action_test_connection()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn("401", action["params"]["message"])
