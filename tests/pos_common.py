"""POS fixtures: a chart of accounts, taxes, payment methods, a POS config with an open
session, and orders paid through the POS's own ``sync_from_ui``."""

from uuid import uuid4

from odoo import fields


class PosFixtures:
    """Class-level POS setup for a ``TransactionCase`` / ``HttpCase`` (call :meth:`setup_pos`)."""

    @classmethod
    def setup_pos(cls):
        env = cls.env
        company = env.company
        if not company.chart_template:
            env["account.chart.template"].try_loading(
                "generic_coa", company=company, install_demo=False
            )
        # goods sold by weight: quantities with three decimals (0.333 kg)
        env.ref("uom.decimal_product_uom").digits = 3
        Tax = env["account.tax"]
        cls.tax_825 = Tax.create({"name": "Sales Tax 8.25%", "amount": 8.25,
                                  "type_tax_use": "sale", "sequence": 1})  # fmt: skip
        cls.tax_5 = Tax.create({"name": "City Tax 5%", "amount": 5.0,
                                "type_tax_use": "sale", "sequence": 2})  # fmt: skip
        cls.tax_10_incl = Tax.create({"name": "VAT 10% incl.", "amount": 10.0,
                                      "type_tax_use": "sale",
                                      "price_include_override": "tax_included"})  # fmt: skip
        Journal = env["account.journal"]
        cash_journal = Journal.create({"name": "POS Cash", "type": "cash", "code": "PCSH"})
        bank_journal = Journal.search(
            [("type", "=", "bank"), *Journal._check_company_domain(company)], limit=1
        )
        Method = env["pos.payment.method"]
        cls.cash_pm = Method.create({"name": "Cash", "journal_id": cash_journal.id})
        cls.card_pm = Method.create({"name": "Card", "journal_id": bank_journal.id})
        cls.pos_config = env["pos.config"].create(
            {"name": "Shop 1", "payment_method_ids": [(6, 0, [cls.cash_pm.id, cls.card_pm.id])]}
        )
        cls.pos_config.open_ui()
        cls.pos_session = cls.pos_config.current_session_id
        cls.pos_session.set_opening_control(0, None)
        cls.pos_categ = env["pos.category"].create({"name": "Drinks"})
        cls.product_categ = env["product.category"].create({"name": "Goods"})

    @classmethod
    def make_product(cls, name, price, taxes=(), **values):
        return cls.env["product.product"].create({
            "name": name, "list_price": price, "available_in_pos": True,
            "categ_id": cls.product_categ.id, "taxes_id": [(6, 0, [tax.id for tax in taxes])], **values,
        })  # fmt: skip

    def order_data(self, lines, customer=None, refund_of=None):
        """The draft order the POS UI sends: ``lines`` are (product, qty[, discount]);
        ``refund_of`` (an order) makes the lines refund that order's lines in turn."""
        currency = self.pos_session.currency_id
        line_cmds = []
        refunded_lines = list(refund_of.lines) if refund_of else []
        for index, (product, qty, *rest) in enumerate(lines):
            discount = rest[0] if rest else 0.0
            price_unit = product.lst_price
            taxes = product.taxes_id
            price = price_unit * (1 - discount / 100.0)
            computed = taxes.compute_all(price, currency, qty, product=product)
            values = {
                "product_id": product.id, "qty": qty, "price_unit": price_unit,
                "discount": discount, "price_subtotal": computed["total_excluded"],
                "price_subtotal_incl": computed["total_included"],
                "tax_ids": [(6, 0, taxes.ids)], "uuid": str(uuid4()),
                "full_product_name": product.display_name,
            }  # fmt: skip
            if refunded_lines:
                values["refunded_orderline_id"] = refunded_lines[index].id
            line_cmds.append((0, 0, values))
        uid = str(uuid4())
        return {
            "uuid": uid,
            "name": f"Order {uid}",
            "session_id": self.pos_session.id,
            "pricelist_id": self.pos_config.pricelist_id.id,
            "partner_id": customer.id if customer else False,
            "user_id": self.env.uid,
            "date_order": fields.Datetime.to_string(fields.Datetime.now()),
            "lines": line_cmds,
            "payment_ids": [],
            "amount_paid": 0.0,
            "amount_return": 0.0,
            "amount_tax": 0.0,
            "amount_total": 0.0,
            "state": "draft",
            "to_invoice": False,
            "is_refund": bool(refund_of),
            "last_order_preparation_change": "{}",
        }

    def pay_order(self, lines, payments=None, customer=None, refund_of=None):
        """Create an order and pay it through ``pos.order.sync_from_ui``, as the POS does: the
        draft first (Odoo computes its amounts), then the paid order with its payments.
        ``payments`` (method, amount) default to cash for the total; what they exceed the
        total by is given back as change. Returns the order."""
        Order = self.env["pos.order"]
        data = self.order_data(lines, customer=customer, refund_of=refund_of)
        Order.sync_from_ui([data])
        order = Order.search([("uuid", "=", data["uuid"])])
        order._compute_prices()
        total = order.amount_total
        payments = payments or [(self.cash_pm, total)]
        paid = sum(amount for _method, amount in payments)
        change = self.pos_session.currency_id.round(paid - total) if paid > total else 0.0
        now = fields.Datetime.to_string(fields.Datetime.now())
        Order.sync_from_ui([{
            **data, "lines": [], "state": "paid", "access_token": order.access_token,
            "payment_ids": [(0, 0, {"amount": amount, "payment_method_id": method.id,
                                    "payment_date": now}) for method, amount in payments],
            "amount_paid": paid, "amount_return": -change,
            "amount_total": total, "amount_tax": order.amount_tax,
        }])  # fmt: skip
        return order
