"""Neutral documents -> Tactill request bodies (pure functions, no ORM).

Money is integer cents, rates basis points, dates ISO 8601 UTC, as the Tactill contract wants
(``../shared/specs/tactill-api-v0.txt``). The contract shows sale lines and payments collapsed:
their members here (``product_id``, ``quantity``, ``unit_price``, ``total``...) are the ones the
HTTP client's path table and the test double agree on, and can be adapted in one place.
"""

import hashlib
import json

PAYMENT_TYPES = {"cash": "CASH", "bank": "CARD", "pay_later": "OTHER"}
PRODUCT_PATCH_FIELDS = ("name", "buy_price", "sell_price", "barcode", "reference",
                        "category_id", "tax_id")  # fmt: skip


def digest(body):
    """sha256 of a body in canonical JSON: an unchanged body has the same digest."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def category_body(category):
    return {"name": category["name"]}


def tax_body(tax):
    return {"rate": tax["rate_bp"]}


def product_body(product, category_id, tax_id):
    """The creation body of a product document (its variations go separately)."""
    body = {
        "name": product["name"],
        "buy_price": product["cost_cents"],
        "sell_price": product["list_price_cents"],
        "category": category_id,
        "tax": tax_id,
        "barcode": None if product["has_variants"] else product["barcode"],
        "reference": product_reference(product),
    }
    if product["has_variants"]:
        body["options"] = sorted(
            {a["attribute"] for variant in product["variants"] for a in variant["attributes"]}
        )
    return body


def product_reference(product):
    """What identifies a product in Tactill for lookups: its internal reference, else the
    template id (templates with variants have one reference per variant)."""
    if not product["has_variants"] and product["default_code"]:
        return product["default_code"]
    return f"odoo-tmpl-{product['template_id']}"


def product_patch(external_id, last_body, body):
    """Only what changed since ``last_body`` (creation body or last patch), with the ``id``;
    None when nothing the patch can carry changed."""
    current = {**body, "category_id": body.get("category"), "tax_id": body.get("tax")}
    previous = dict(last_body or {})
    previous.setdefault("category_id", previous.get("category"))
    previous.setdefault("tax_id", previous.get("tax"))
    changes = {
        name: current.get(name)
        for name in PRODUCT_PATCH_FIELDS
        if current.get(name) != previous.get(name)
    }
    return {"id": external_id, **changes} if changes else None


def variant_id(variant):
    return f"odoo-{variant['id']}"


def variant_body(product_external_id, variant, tax_id):
    return {
        "product_id": product_external_id,
        "variant_id": variant_id(variant),
        "options": [{"name": a["attribute"], "value": a["value"]} for a in variant["attributes"]],
        "tax_id": tax_id,
        "buy_price": variant["cost_cents"],
        "sell_price": variant["price_cents"],
        "barcode": variant["barcode"],
        "reference": variant["default_code"],
    }


def customer_body(customer):
    first, _sep, last = (customer["name"] or "").rpartition(" ")
    body = {
        "original_id": customer["ref"],
        "first_name": first or None,
        "last_name": last or None,
        "email": customer["email"],
        "phone": customer["phone"],
    }
    if customer.get("street") or customer.get("city"):
        body["address"] = {
            "street": customer.get("street"), "city": customer.get("city"),
            "zip_code": customer.get("zip"), "country": customer.get("country_code"),
        }  # fmt: skip
    return body


def _line_body(line, product_ids):
    ref = product_ids[line["product_id"]]
    body = {
        "product_id": ref["product_id"],
        "name": line["product_name"],
        "quantity": line["qty"],
        "unit_price": line["unit_price_cents"],
        "discount": line["discount_cents"],
        "total": line["total_cents"],
        "total_tax": line["tax_cents"],
        "total_tax_free": line["subtotal_cents"],
        "taxes": [{"rate": tax["rate_bp"], "amount": tax["amount_cents"]} for tax in line["taxes"]],
    }
    if ref.get("variant_id"):
        body["variant_id"] = ref["variant_id"]
    return body


def _discount_body(line):
    return {
        "name": f"{line['discount_percent']:g} % {line['product_name']}",
        "type": "PERCENTAGE",
        "rate": line["discount_percent"],
        "amount": line["discount_cents"],
    }


def _payment_body(payment, closed_at, method_types):
    amount = payment["amount_cents"]
    return {
        "original_id": f"pos.payment,{payment['id']}",
        "type": "OUT" if amount < 0 else "IN",
        "payment_method_type": method_types.get(str(payment["method_id"]))
        or PAYMENT_TYPES.get(payment["method_type"], "OTHER"),
        "payment_method_name": payment["method_name"],
        "amount": abs(amount),
        "date": closed_at,
    }


def refund_status(total_cents, refunded_cents):
    """NONE / PARTIAL / FULL of a sale of ``total_cents`` refunded by ``refunded_cents``."""
    if refunded_cents <= 0:
        return "NONE"
    return "FULL" if refunded_cents >= abs(total_cents) else "PARTIAL"


def sale_body(doc, backend, product_ids, customer_id=None, target=None, number=None,
              refunded_cents=0, method_types=None):  # fmt: skip
    """The creation body of a sale document.

    ``backend``: ``shop_id``, ``source_id``, ``source_name``; ``product_ids``: {Odoo product
    id: {"product_id", "variant_id"}} of the bound products; ``target``: ``(sale id, total
    cents)`` of the sale a refund refunds; ``refunded_cents``: how much later refunds took
    back (the original's ``refund_status``); ``method_types``: {POS payment method id (str):
    Tactill payment method type}.
    """
    paid = sum(p["amount_cents"] for p in doc["payments"])
    total = doc["amount_total_cents"]
    body = {
        "original_id": doc["uid"],
        "shop_id": backend["shop_id"],
        "source_id": backend["source_id"],
        "source_name": backend["source_name"],
        "name": doc["reference"] or doc["name"],
        "state": "CLOSED",
        "payment_status": "FULL" if abs(paid) >= abs(total) else ("PARTIAL" if paid else "NONE"),
        "refund_status": refund_status(total, refunded_cents),
        "refunded_status": "NONE",
        "opened_at": doc["opened_at"] or doc["closed_at"],
        "closed_at": doc["closed_at"],
        "lines": [_line_body(line, product_ids) for line in doc["lines"]],
        "discounts": [_discount_body(line) for line in doc["lines"] if line["discount_cents"]],
        "payments": [
            _payment_body(p, doc["closed_at"], method_types or {}) for p in doc["payments"]
        ],
        "total": total,
        "total_tax": doc["amount_tax_cents"],
        "total_tax_free": doc["amount_untaxed_cents"],
        "total_discount": doc["discount_total_cents"],
        "total_rest": max(abs(total) - abs(paid), 0),
    }
    if number is not None:
        body["number"] = number
    if customer_id:
        body["customer_id"] = customer_id
    if target:
        body["target_id"] = target[0]
        body["refunded_status"] = refund_status(target[1], -total)
    return body
