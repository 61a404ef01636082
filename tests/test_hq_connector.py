"""The HQ connector through the outbox and the real dispatcher, against the HQ double
(issue #10, "Done when"): products, sales, refunds, tokens, exactly once, errors."""

import time

import jwt

from odoo.tests import TransactionCase, tagged

from ..models.api_sync_hq_backend import _READ_AHEAD, _ReadAhead
from ..tools.sale_document import to_cents
from .hq_common import HqFixtures, wait_until


@tagged("post_install", "-at_install")
class TestHqConnector(HqFixtures, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_hq()
        cls.coffee = cls.product("Coffee", 9.99, [cls.tax_825, cls.tax_5], barcode="400100")
        cls.bagel = cls.product("Bagel", 3.30, [cls.tax_10_incl], barcode="400200")
        cls.customer = cls.env["res.partner"].create(
            {"name": "Jane Customer", "email": "jane@example.com", "ref": "C-42"}
        )

    def setUp(self):
        super().setUp()
        self.backend.action_push_all_products()
        self.dispatch()
        self.double.requests.clear()

    # -- Test connection -------------------------------------------------------------------------
    def test_test_connection(self):
        result = self.backend.action_test_connection()
        self.assertEqual(result["params"]["type"], "success", result["params"]["message"])
        self.assertEqual(self.backend.hq_user_id, self.double.manager["id"])
        self.assertEqual(
            {(r.kind, r.hq_id) for r in self.backend.remote_ids if r.kind != "user"},
            {("store", self.double.store["id"])}
            | {("tender", t["id"]) for t in self.double.tenders.values()},
        )
        self.assertEqual(self.backend.store_choice_id.hq_id, self.double.store["id"])
        self.assertEqual(
            [r["path"] for r in self.double.requests[:2]], ["/health", "/api/v1/auth/login"]
        )
        self.double.manager["permissions"].remove("pos.void")
        result = self.backend.action_test_connection()
        self.assertEqual(result["params"]["type"], "danger")
        self.assertIn("missing HQ permissions: pos.void", result["params"]["message"])
        self.backend.pin = "0000"
        result = self.backend.action_test_connection()
        self.assertIn("HQ login refused: Invalid credentials", result["params"]["message"])
        self.assertNotIn("0000", result["params"]["message"])

    # -- products --------------------------------------------------------------------------------
    def test_product_create_change_archive(self):
        muffin = self.product(
            "Muffin",
            2.50,
            [self.tax_825, self.tax_5],
            barcode="400300",
            standard_price=1.10,
            is_storable=True,
        )
        self.dispatch()
        [hq] = [p for p in self.double.products.values() if p["barcode"] == "400300"]
        self.assertEqual(
            {k: hq[k] for k in ("sku", "name", "sellPrice", "costPrice", "trackStock")},
            {
                "sku": "MUFFIN",
                "name": "Muffin",
                "sellPrice": 250,
                "costPrice": 110,
                "trackStock": True,
            },
        )
        # category and taxes: one department and one tax group, shared with Coffee
        self.assertEqual(len(self.double.departments), 1)
        self.assertEqual(len(self.double.tax_groups), 2)  # Coffee's, and Bagel's (10 % incl.)
        [group] = [g for g in self.double.tax_groups.values() if len(g["rates"]) == 2]
        self.assertEqual(
            [(r["rate"], r["isCompound"]) for r in group["rates"]], [(825, False), (500, False)]
        )
        self.assertEqual(hq["taxGroupId"], group["id"])
        self.assertEqual(self.binding(muffin).external_id, hq["id"])
        # a change HQ cares about: one PUT
        muffin.list_price = 2.75
        self.dispatch()
        self.assertEqual(hq["sellPrice"], 275)
        self.assertEqual(len(self.double.calls("PUT", "/products/")), 1)
        # archived: soft-deleted in HQ
        muffin.product_tmpl_id.active = False
        self.dispatch()
        self.assertFalse(hq["isActive"])
        self.assertEqual(len(self.double.calls("DELETE", "/products/")), 1)
        self.assertEqual(
            self.double.calls("POST", "/products"),
            self.double.calls("POST", "/products")[:1],
            "created once",
        )

    def test_barcode_binding(self):
        existing = self.double.add_product(
            name="Old Tea", barcode="400400", sku="OLD-TEA", sellPrice=100, costPrice=50
        )
        tea = self.product("Tea", 1.80, [self.tax_825], barcode="400400")
        self.dispatch()
        self.assertEqual(self.binding(tea).external_id, existing["id"])
        self.assertEqual(existing["name"], "Tea")
        self.assertEqual(existing["sellPrice"], 180)
        self.assertFalse(self.double.calls("POST", "^/api/v1/products$"))
        self.assertEqual(
            len([p for p in self.double.products.values() if p["barcode"] == "400400"]), 1
        )

    def test_push_all_products(self):
        self.double.products.clear()
        self.env["api.sync.binding"].search([("backend_id", "=", self.backend.id)]).unlink()
        self.backend.action_push_all_products()
        self.dispatch()
        self.assertLessEqual(
            {"400100", "400200"}, {p["barcode"] for p in self.double.products.values()}
        )

    # -- sales -----------------------------------------------------------------------------------
    def test_sale_discount_two_taxes_split_payment_change(self):
        order = self.pay_order(
            [(self.coffee, 3, 10.0), (self.bagel, 0.333)],
            payments=[(self.card_pm, 20.0), (self.cash_pm, 20.0)],
            customer=self.customer,
        )
        self.dispatch()
        [sale] = self.sales()
        total = to_cents(order.amount_total)
        self.assertEqual(sale["grandTotal"], total)
        self.assertEqual(sale["taxTotal"], to_cents(order.amount_tax))
        self.assertEqual(sum(i["lineTotal"] for i in sale["items"]), total)
        self.assertEqual(sale["receiptNumber"], order.pos_reference)
        self.assertEqual(sale["storeId"], self.double.store["id"])
        self.assertEqual(sale["terminalId"], "Shop 1")
        self.assertEqual(sale["cashierId"], self.double.manager["id"])
        coffee = sale["items"][0]
        self.assertEqual((coffee["quantity"], coffee["taxRate"]), (3000, 1325))
        self.assertEqual([t["rate"] for t in coffee["taxes"]], [825, 500])
        self.assertGreater(coffee["discountAmount"], 0)
        self.assertEqual(sale["items"][1]["quantity"], 333)
        self.assertEqual(
            sorted((p["method"], p["amount"]) for p in sale["payments"]),
            [("CARD", 2000), ("CASH", 2000)],
        )
        self.assertEqual(sale["changeAmount"], 4000 - total)
        self.assertEqual(self.double.customers[sale["customerId"]]["code"], "C-42")
        # mappings recorded on first use, and the default cashier said so on the push
        self.assertEqual(
            {(m.kind, m.hq_value) for m in self.backend.mapping_ids if m.kind != "cashier"},
            {("terminal", "Shop 1"), ("tender", "CASH"), ("tender", "CARD")},
        )
        self.assertTrue(all(self.backend.mapping_ids.mapped("is_default")))
        [delivery] = self.deliveries("pos.order")
        self.assertEqual(delivery.state, "done")
        self.assertIn("default HQ cashier used", delivery.response_excerpt)
        self.assertEqual(self.binding(order).external_id, sale["id"])
        # the order changed again (e.g. its customer): no second sale
        order.partner_id = self.env["res.partner"].create({"name": "Other"})
        self.dispatch()
        self.assertEqual(len(self.sales()), 1)

    def test_refunds(self):
        order = self.pay_order([(self.bagel, 1), (self.coffee, 2)])
        self.dispatch()
        [sale] = self.sales()
        # a partial refund (the bagel): a negative sale naming the original
        partial = self.pay_order([(self.bagel, -1)], refund_of=order)
        self.dispatch()
        [refund_sale] = [s for s in self.sales() if s["id"] != sale["id"]]
        self.assertEqual(
            refund_sale["receiptNumber"],
            f"{partial.pos_reference} (refund of {order.pos_reference})",
        )
        self.assertEqual(refund_sale["items"][0]["quantity"], -1000)
        self.assertEqual(refund_sale["grandTotal"], to_cents(partial.amount_total))
        self.assertLess(refund_sale["grandTotal"], 0)
        self.assertEqual(sale["status"], "completed")
        # a full refund voids the original
        other = self.pay_order([(self.coffee, 1)])
        self.dispatch()
        full = self.pay_order([(self.coffee, -1)], refund_of=other)
        self.dispatch()
        [other_sale] = self.double.sales_by_receipt(other.pos_reference)
        self.assertEqual(other_sale["status"], "voided")
        self.assertEqual(self.binding(full).external_id, other_sale["id"])
        self.assertEqual(len(self.double.calls("PUT", "/void$")), 1)
        self.assertFalse(self.double.sales_by_receipt(full.pos_reference))

    # -- failures ----------------------------------------------------------------------------------
    def test_503_then_recovery(self):
        self.double.inject("POST", "^/api/v1/sales$", "status", 503, times=1)
        order = self.pay_order([(self.coffee, 1)])
        self.dispatch()
        [delivery] = self.deliveries("pos.order")
        self.assertEqual(delivery.state, "retry")
        self.assertIn("HQ error 503", delivery.last_error)
        self.assertFalse(self.sales())
        self.make_due(delivery)
        self.dispatch()
        self.assertEqual(delivery.state, "done")
        [sale] = self.sales()
        self.assertEqual(sale["receiptNumber"], order.pos_reference)

    def test_timeout_after_stored_no_duplicate(self):
        """HQ stores the sale but answers too late: the retry finds the receipt, no repost."""
        self.double.hang = 15  # longer than the client's timeout (10 s under the test harness)
        self.backend.timeout = 1
        self.double.inject("POST", "^/api/v1/sales$", "timeout")
        order = self.pay_order([(self.coffee, 1)])
        self.dispatch()
        [delivery] = self.deliveries("pos.order")
        self.assertEqual(delivery.state, "retry")
        self.assertIn("timed out", delivery.last_error)
        self.assertEqual(len(self.sales()), 1, "stored by HQ")
        self.double.released.set()
        self.make_due(delivery)
        self.dispatch()
        self.assertEqual(delivery.state, "done")
        self.assertEqual(len(self.sales()), 1, "no duplicate")
        self.assertEqual(len(self.double.calls("POST", "^/api/v1/sales$")), 1)
        self.assertTrue(self.double.calls("GET", "^/api/v1/sales$"))
        self.assertEqual(self.binding(order).external_id, self.sales()[0]["id"])

    def test_new_delivery_after_a_dead_one(self):
        """A new delivery of an order whose earlier delivery died after HQ had stored the sale
        (answered too late) looks for the receipt first: no second sale."""
        self.double.hang = 15  # longer than the client's timeout
        self.backend.timeout = 1
        self.env["ir.config_parameter"].set_param("api_sync.delivery_max_attempts", 1)
        self.double.inject("POST", "^/api/v1/sales$", "timeout")
        order = self.pay_order([(self.coffee, 1)])
        self.dispatch()
        [delivery] = self.deliveries("pos.order")
        self.assertEqual(delivery.state, "dead")
        self.double.released.set()
        order.state = "done"  # queues the order again
        self.dispatch()
        self.assertEqual(len(self.double.calls("POST", "^/api/v1/sales$")), 1)
        [sale] = self.sales()
        self.assertEqual(self.binding(order).external_id, sale["id"])

    def test_bad_input(self):
        # a product with neither barcode nor internal reference: that push fails, clearly
        bare = self.make_product("Bare", 1.0, [self.tax_825], categ_id=self.categ.id)
        self.dispatch()
        failed = self.deliveries().filtered(
            lambda d: d.record_key == f"product.template,{bare.product_tmpl_id.id}"
        )
        self.assertTrue(failed)
        self.assertEqual(set(failed.mapped("state")), {"dead"})
        for delivery in failed:
            self.assertIn("neither an internal reference nor a barcode", delivery.last_error)
        # a payment method no HQ tender fits (HQ has no card tender): that order fails with
        # the method named, the next one goes on
        [card] = [t for t in self.double.tenders.values() if t["code"] == "CARD"]
        del self.double.tenders[card["id"]]
        bad = self.pay_order(
            [(self.coffee, 1)],
            payments=[(self.card_pm, self.coffee_total())],
            customer=self.customer,
        )
        good = self.pay_order([(self.coffee, 1)])
        self.dispatch()
        by_order = {d.payload["record_id"]: d for d in self.deliveries("pos.order")}
        self.assertEqual(by_order[bad.id].state, "dead")
        self.assertIn("POS payment method 'Card' has no HQ tender", by_order[bad.id].last_error)
        self.assertEqual(by_order[good.id].state, "done")
        # HQ answering HTML, then an envelope without success: retried with the reason
        self.double.inject("POST", "^/api/v1/sales$", "html")
        order = self.pay_order([(self.bagel, 1)])
        self.dispatch()
        delivery = self.deliveries("pos.order").filtered(
            lambda d: d.payload["record_id"] == order.id
        )
        self.assertEqual(delivery.state, "retry")
        self.assertIn("HQ answered text/html", delivery.last_error)
        self.double.inject("POST", "^/api/v1/sales$", "no_success")
        self.make_due(delivery)
        self.dispatch()
        self.assertIn("envelope without success", delivery.last_error)
        self.make_due(delivery)
        self.dispatch()
        self.assertEqual(delivery.state, "done")
        self.assertEqual(len(self.double.sales_by_receipt(order.pos_reference)), 1)

    def test_missing_permission_pauses(self):
        self.double.manager["permissions"].remove("pos.sell")
        order = self.pay_order([(self.coffee, 1)])
        self.dispatch()
        [delivery] = self.deliveries("pos.order")
        self.assertEqual(self.backend.state, "paused")
        self.assertIn("missing HQ permission pos.sell", self.backend.disabled_reason)
        self.assertEqual(delivery.state, "on_hold")
        self.double.manager["permissions"].append("pos.sell")
        self.backend.action_test_connection()
        self.assertEqual(self.backend.state, "active")
        self.dispatch()
        self.assertEqual(delivery.state, "done")
        self.assertEqual(self.sales()[0]["receiptNumber"], order.pos_reference)

    def test_wrong_pin_pauses(self):
        self.backend.pin = "0000"
        self.pay_order([(self.coffee, 1)])
        self.dispatch()
        self.assertEqual(self.backend.state, "paused")
        self.assertIn("HQ login refused: Invalid credentials", self.backend.disabled_reason)
        self.assertFalse(self.sales())

    # -- sale documents read ahead ---------------------------------------------------------------
    def test_documents_read_ahead(self):
        """The send of the first of three queued orders reads the documents of the other two,
        which their own sends take; one whose order changed meanwhile is read again."""
        orders = [self.pay_order([(self.coffee, qty)]) for qty in (1, 2, 3)]
        self.env.cr.flush()  # the deliveries are queued at commit time
        first = self.deliveries("pos.order").filtered(
            lambda d: d.payload["record_id"] == orders[0].id
        )
        first._send_now()
        ahead = _READ_AHEAD[self.env.cr.dbname, self.backend.id]
        self.assertEqual(set(ahead.documents), {orders[1].id, orders[2].id})
        # another transaction gives the second order a customer
        self.env.cr.execute(
            "UPDATE pos_order SET partner_id = %s, write_date = write_date + interval '1 second'"
            " WHERE id = %s",
            (self.customer.id, orders[1].id),
        )
        orders[1].invalidate_recordset()
        self.dispatch()
        self.assertFalse(ahead.documents)
        sales = {sale["receiptNumber"]: sale for sale in self.sales()}
        self.assertEqual(
            [sales[o.pos_reference]["grandTotal"] for o in orders],
            [to_cents(o.amount_total) for o in orders],
        )
        [customer] = self.double.customers.values()
        self.assertEqual(sales[orders[1].pos_reference]["customerId"], customer["id"])
        self.assertIsNone(sales[orders[2].pos_reference]["customerId"])

    def test_unreadable_queued_order(self):
        """An order whose document cannot be built fails its own send, not the send of the
        order it would have been read with."""
        good = self.pay_order([(self.coffee, 1)])
        bad = self.pay_order([(self.bagel, 1)])
        self.env.cr.execute(
            "UPDATE pos_order_line SET price_unit = 'NaN' WHERE order_id = %s", (bad.id,)
        )
        bad.lines.invalidate_recordset()
        self.env.cr.flush()
        by_order = {d.payload["record_id"]: d for d in self.deliveries("pos.order")}
        by_order[good.id]._send_now()
        self.assertEqual(by_order[good.id].state, "done")
        self.dispatch()
        self.assertEqual([s["receiptNumber"] for s in self.sales()], [good.pos_reference])
        self.assertEqual(by_order[bad.id].state, "retry")
        self.assertIn("NaN", by_order[bad.id].last_error)

    def test_read_ahead_store(self):
        ahead = _ReadAhead()
        self.assertEqual(ahead.reserve([1, 2, 3]), [1, 2, 3])
        self.assertEqual(ahead.reserve([2, 4]), [4], "2 is being read")
        ahead.store([1, 2, 3], {1: ("v1", {"n": 1}), 2: ("v1", {"n": 2})})
        self.assertEqual(ahead.reserve([1, 3]), [3], "1 is held, 3 was not kept")
        self.assertIsNone(ahead.take(1, "v2"), "its order changed since")
        self.assertIsNone(ahead.take(1, "v1"), "taken once")
        self.assertEqual(ahead.take(2, "v1"), {"n": 2})

    def coffee_total(self):
        taxes = self.coffee.taxes_id.compute_all(self.coffee.lst_price, quantity=1)
        return taxes["total_included"]


@tagged("post_install", "-at_install")
class TestHqTokenExpiry(HqFixtures, TransactionCase):
    """Access tokens living 2 s: the run refreshes them at expiry and never logs in again."""

    access_ttl = 2

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_hq()
        cls.coffee = cls.product("Coffee", 9.99, [cls.tax_825, cls.tax_5], barcode="400100")
        cls.bagel = cls.product("Bagel", 3.30, [cls.tax_10_incl], barcode="400200")

    def test_token_expired_mid_run(self):
        self.pay_order([(self.coffee, 1)])
        self.dispatch()
        self.assertEqual(self.double.logins, 1)
        access = self.double.calls("POST", "/auth/login")[-1]["answer"]["data"]["accessToken"]
        exp = jwt.decode(access, options={"verify_signature": False})["exp"]
        wait_until(lambda: time.time() > exp)
        self.pay_order([(self.bagel, 1)])
        self.dispatch()
        self.assertEqual(len(self.sales()), 2)
        self.assertEqual(self.double.logins, 1, "no new login")
        self.assertGreaterEqual(self.double.refreshes, 1)
        refresh = self.double.calls("POST", "/auth/refresh")[-1]
        self.assertEqual(list(self.double.body(refresh)), ["refreshToken"])
        self.assertFalse([r for r in self.double.requests if r["status"] == 401])
        # the refresh token revoked meanwhile: one new login, the run goes on
        self.double.revoke_refresh_tokens()
        access = self.double.calls("POST", "/auth/refresh")[-1]["answer"]["data"]["accessToken"]
        exp = jwt.decode(access, options={"verify_signature": False})["exp"]
        wait_until(lambda: time.time() > exp)
        self.pay_order([(self.coffee, 2)])
        self.dispatch()
        self.assertEqual(len(self.sales()), 3)
        self.assertEqual(self.double.logins, 2)
