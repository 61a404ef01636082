from odoo import models

from ..tools.sale_document import build_sale_document

# what the sale documents read, fetched at once for all the orders (and nothing else)
ORDER_FIELDS = [
    "uuid", "pos_reference", "name", "config_id", "session_id", "user_id", "create_date",
    "date_order", "is_refund", "amount_total", "amount_tax", "partner_id", "company_id",
    "fiscal_position_id",
]  # fmt: skip
LINE_FIELDS = [
    "order_id", "product_id", "full_product_name", "qty", "price_unit", "discount",
    "price_subtotal", "price_subtotal_incl", "tax_ids", "refunded_orderline_id",
]  # fmt: skip
PAYMENT_FIELDS = ["pos_order_id", "payment_method_id", "amount", "is_change", "transaction_id",
                  "card_type"]  # fmt: skip


class PosOrder(models.Model):
    _inherit = "pos.order"

    def _api_sync_sale_document(self):
        """This order as the neutral sale document (see ``tools/sale_document.py``)."""
        self.ensure_one()
        return self._api_sync_sale_documents()[self.id]

    def _api_sync_sale_documents(self):
        """{order id: sale document} of these orders, read together: each model once for all
        of them, and only the fields the documents need."""
        has_employee = "employee_id" in self._fields
        self.fetch(ORDER_FIELDS + (["employee_id"] if has_employee else []))
        self.config_id.fetch(["name", "currency_id"])
        self.currency_id.fetch(["name", "rounding", "decimal_places"])
        self.user_id.fetch(["partner_id"])
        self.user_id.partner_id.fetch(["name"])
        self.company_id.fetch(
            ["currency_id", "tax_calculation_rounding_method", "account_price_include"]
        )
        lines = self.env["pos.order.line"].search_fetch([("order_id", "in", self.ids)], LINE_FIELDS)
        lines.product_id.fetch(["default_code", "barcode", "product_tmpl_id"])
        payments = self.env["pos.payment"].search_fetch(
            [("pos_order_id", "in", self.ids)], PAYMENT_FIELDS
        )
        payments.payment_method_id.fetch(["name", "journal_id"])
        payments.payment_method_id.journal_id.fetch(["type"])
        lines_of, payments_of = lines.grouped("order_id"), payments.grouped("pos_order_id")
        empty_lines, empty_payments = lines.browse(), payments.browse()
        return {
            order.id: order._api_sync_build_document(
                lines_of.get(order, empty_lines), payments_of.get(order, empty_payments)
            )
            for order in self
        }

    def _api_sync_build_document(self, lines, payments):
        self.ensure_one()
        currency = self.currency_id
        employee = self.employee_id if "employee_id" in self._fields else None
        # as pos.order computes refunded_order_id, without reading the refunds' count too
        refunded = lines.refunded_orderline_id.order_id[:1]
        header = {
            "uid": self.uuid,
            "order_id": self.id,
            "reference": self.pos_reference,
            "name": self.name,
            "config_id": self.config_id.id,
            "config_name": self.config_id.name,
            "session_id": self.session_id.id,
            "user_id": self.user_id.id,
            "user_name": self.user_id.name,
            "employee_id": employee.id if employee else None,
            "employee_name": employee.name if employee else None,
            "opened_at": self.create_date,
            "closed_at": self.date_order,
            "currency": currency.name,
            "is_refund": self.is_refund,
            "refunded_order_id": refunded.id or None,
            "refunded_order_uid": refunded.uuid or None,
            "amount_total": self.amount_total,
            "amount_tax": self.amount_tax,
        }
        return build_sale_document(
            header,
            [line._api_sync_line_values() for line in lines],
            [
                {
                    "id": payment.id,
                    "method_id": payment.payment_method_id.id,
                    "method_name": payment.payment_method_id.name,
                    "method_type": payment.payment_method_id.type,
                    "amount": payment.amount,
                    "is_change": payment.is_change,
                    "reference": payment.transaction_id or payment.card_type or "",
                }
                for payment in payments
            ],
            customer=self.partner_id._api_sync_customer_values() if self.partner_id else None,
            currency_rounding=currency.rounding,
        )


class PosOrderLine(models.Model):
    _inherit = "pos.order.line"

    def _api_sync_line_values(self):
        """Plain values of this line for :func:`build_sale_document`: Odoo's amounts, and each
        tax's amount on the line as the taxes compute it."""
        self.ensure_one()
        order = self.order_id
        taxes = self.tax_ids_after_fiscal_position
        price = self.price_unit * (1 - (self.discount or 0.0) / 100.0)
        details, undiscounted = {}, self.price_subtotal_incl
        if taxes:
            computed = taxes.compute_all(
                price, order.currency_id, self.qty, product=self.product_id,
                partner=order.partner_id,
            )  # fmt: skip
            details = {tax["id"]: tax["amount"] for tax in computed["taxes"]}
            if self.discount:
                undiscounted = taxes.compute_all(
                    self.price_unit, order.currency_id, self.qty, product=self.product_id,
                    partner=order.partner_id,
                )["total_included"]  # fmt: skip
        elif self.discount:
            undiscounted = self.price_unit * self.qty
        product = self.product_id
        return {
            "id": self.id,
            "product_id": product.id,
            "template_id": product.product_tmpl_id.id,
            "product_name": self.full_product_name or product.display_name,
            "default_code": product.default_code,
            "barcode": product.barcode,
            "qty": self.qty,
            "price_unit": self.price_unit,
            "discount": self.discount,
            "price_subtotal": self.price_subtotal,
            "price_subtotal_incl": self.price_subtotal_incl,
            "price_subtotal_incl_undiscounted": undiscounted,
            "taxes": [
                {
                    "id": tax.id,
                    "name": tax.name,
                    "amount": tax.amount,
                    "tax_amount": details.get(tax.id, 0.0),
                    "price_include": tax.price_include,
                    "sequence": tax.sequence,
                    "include_base_amount": tax.include_base_amount,
                }
                for tax in taxes
            ],
        }
