"""The neutral sale document: a POS order as plain JSON, money in integer cents.

Pure functions, no ORM: ``pos.order._api_sync_sale_document()`` reads an order once into plain
values and :func:`build_sale_document` turns them into the document every connector maps.
Amounts come from Odoo's own computed values (``price_subtotal``, ``price_subtotal_incl``,
``amount_tax``, ``amount_total``, payment amounts); where per-line rounding disagrees with the
order's, the residue goes on lines so that they sum to the order total to the cent.
"""

from datetime import UTC
from decimal import ROUND_HALF_UP, Decimal

ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def _decimal(value):
    # repr() is the shortest string that reads back as the same float: 2.675 stays 2.675
    return Decimal(repr(float(value or 0.0)))


def to_cents(amount, currency_rounding=0.01):
    """Integer cents of ``amount`` rounded to the currency's rounding, half away from zero."""
    step = _decimal(currency_rounding or 0.01)
    rounded = (_decimal(amount) / step).quantize(Decimal(1), ROUND_HALF_UP) * step
    return int((rounded * 100).quantize(Decimal(1), ROUND_HALF_UP))


def rate_basis_points(percent):
    """A tax rate in basis points: 8.25 (%) -> 825."""
    return int((_decimal(percent) * 100).quantize(Decimal(1), ROUND_HALF_UP))


def iso_utc(moment):
    """``YYYY-MM-DDTHH:MM:SSZ`` of a naive-UTC (Odoo) or aware datetime; strings pass through."""
    if not moment:
        return None
    if isinstance(moment, str):
        return moment
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime(ISO_FORMAT)


def distribute(values, target):
    """``values`` (ints) changed by whole cents so that they sum to ``target``.

    The residue goes one cent at a time on the largest values first (in absolute terms), so
    the relative change of each value stays as small as possible.
    """
    values = list(values)
    residue = target - sum(values)
    if not residue or not values:
        return values
    order = sorted(range(len(values)), key=lambda i: (-abs(values[i]), i))
    step = 1 if residue > 0 else -1
    position = 0
    while residue:
        values[order[position % len(order)]] += step
        residue -= step
        position += 1
    return values


def balance_lines(lines, amount_total_cents, amount_untaxed_cents):
    """Balance the lines of a sale document in place: line totals sum to the order total,
    subtotals to the untaxed total, and each line's taxes to its tax amount."""
    totals = distribute([line["total_cents"] for line in lines], amount_total_cents)
    subtotals = distribute([line["subtotal_cents"] for line in lines], amount_untaxed_cents)
    for line, total, subtotal in zip(lines, totals, subtotals, strict=True):
        line["total_cents"] = total
        line["subtotal_cents"] = subtotal
        line["tax_cents"] = total - subtotal
        if line["taxes"]:
            amounts = distribute([tax["amount_cents"] for tax in line["taxes"]], line["tax_cents"])
            for tax, amount in zip(line["taxes"], amounts, strict=True):
                tax["amount_cents"] = amount
    return lines


def _tax(tax, rounding):
    return {
        "id": tax["id"],
        "name": tax["name"],
        "rate_bp": rate_basis_points(tax["amount"]),
        "amount_cents": to_cents(tax.get("tax_amount", 0.0), rounding),
        "price_include": bool(tax.get("price_include")),
        "sequence": tax.get("sequence") or 0,
        "include_base_amount": bool(tax.get("include_base_amount")),
    }


def _line(line, rounding):
    total = to_cents(line["price_subtotal_incl"], rounding)
    undiscounted = to_cents(line.get("price_subtotal_incl_undiscounted", 0.0), rounding)
    qty = float(line["qty"])
    return {
        "id": line["id"],
        "product_id": line["product_id"],
        "template_id": line["template_id"],
        "product_name": line["product_name"],
        "default_code": line.get("default_code") or None,
        "barcode": line.get("barcode") or None,
        "qty": qty,
        "qty_milli": int((_decimal(qty) * 1000).quantize(Decimal(1), ROUND_HALF_UP)),
        "unit_price_cents": to_cents(line["price_unit"], rounding),
        "discount_percent": float(line.get("discount") or 0.0),
        "subtotal_cents": to_cents(line["price_subtotal"], rounding),
        "total_cents": total,
        "tax_cents": 0,
        "discount_cents": (undiscounted - total) if line.get("discount") else 0,
        "taxes": [_tax(tax, rounding) for tax in line.get("taxes", ())],
    }


def _payment(payment, rounding):
    return {
        "id": payment["id"],
        "method_id": payment["method_id"],
        "method_name": payment["method_name"],
        "method_type": payment.get("method_type") or "bank",
        "amount_cents": to_cents(payment["amount"], rounding),
        "is_change": bool(payment.get("is_change")),
        "reference": payment.get("reference") or "",
    }


def build_sale_document(order, lines, payments, customer=None, currency_rounding=0.01):
    """The sale document of an order read into plain values (see ``pos.order`` extractor).

    ``order`` holds the header (ids, names, dates, ``amount_total``, ``amount_tax`` as Odoo
    computed them); ``lines`` the order lines with ``price_unit``, ``qty``, ``discount``,
    ``price_subtotal``, ``price_subtotal_incl``, ``price_subtotal_incl_undiscounted`` and
    their ``taxes`` (``amount`` in percent, ``tax_amount`` of the line); ``payments`` the
    payment lines (the change is a negative ``is_change`` line).
    """
    rounding = currency_rounding
    total = to_cents(order["amount_total"], rounding)
    tax = to_cents(order["amount_tax"], rounding)
    doc_lines = balance_lines([_line(line, rounding) for line in lines], total, total - tax)
    doc_payments = [_payment(payment, rounding) for payment in payments]
    change = -sum(p["amount_cents"] for p in doc_payments if p["is_change"])
    return {
        "uid": order["uid"],
        "order_id": order["order_id"],
        "reference": order.get("reference") or "",
        "name": order.get("name") or "",
        "config_id": order.get("config_id"),
        "config_name": order.get("config_name") or "",
        "session_id": order.get("session_id"),
        "user_id": order.get("user_id"),
        "user_name": order.get("user_name") or "",
        "employee_id": order.get("employee_id") or None,
        "employee_name": order.get("employee_name") or None,
        "opened_at": iso_utc(order.get("opened_at")),
        "closed_at": iso_utc(order.get("closed_at")),
        "currency": order.get("currency") or "EUR",
        "customer": customer or None,
        "is_refund": bool(order.get("is_refund")),
        "refunded_order_id": order.get("refunded_order_id") or None,
        "refunded_order_uid": order.get("refunded_order_uid") or None,
        "lines": doc_lines,
        "payments": doc_payments,
        "change_cents": abs(change),
        "amount_untaxed_cents": total - tax,
        "amount_tax_cents": tax,
        "amount_total_cents": total,
        "discount_total_cents": sum(line["discount_cents"] for line in doc_lines),
    }
