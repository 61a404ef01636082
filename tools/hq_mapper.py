"""Pure functions from the neutral documents (``sale_document``) to HQ request bodies.

No ORM here: the backend resolves the HQ ids (products, departments, tax groups, customers,
cashier, tenders) and passes them in. Money is integer cents, quantities thousandths, tax
rates basis points (``specs/hq-store-api.md``). A sale's ``grandTotal`` is Odoo's
``amount_total`` in cents and its items sum to it, as HQ checks.
"""


class MappingError(ValueError):
    """A document HQ cannot take as it is (missing SKU and barcode, unmapped tender...)."""


def department_body(category):
    """``POST /api/v1/departments`` body for a category ``{"model", "id", "name"}``."""
    return {"name": category["name"]}


def tax_group_signature(rates):
    """What makes two tax groups equivalent: their (rate, compound) pairs in order."""
    return tuple((r["rate"], bool(r["isCompound"])) for r in rates)


def tax_rates(taxes):
    """HQ rates of Odoo taxes (``{"name", "rate_bp", "include_base_amount", "sequence"}``).

    A tax is compound when a tax before it (by sequence) adds itself to the base of the next
    ones (Odoo's ``include_base_amount``).
    """
    ordered = sorted(taxes, key=lambda t: (t.get("sequence") or 0, t.get("id") or 0))
    rates = []
    compound = False
    for index, tax in enumerate(ordered):
        rates.append(
            {
                "name": tax["name"],
                "rate": tax["rate_bp"],
                "isCompound": compound,
                "sortOrder": index,
            }
        )
        compound = compound or bool(tax.get("include_base_amount"))
    return rates


def tax_group_body(taxes):
    """``POST /api/v1/taxes/groups`` body for the taxes of a product."""
    rates = tax_rates(taxes)
    name = " + ".join(r["name"] for r in rates) or "No tax"
    return {"name": name, "rates": rates}


def product_body(product, variant, *, department_id=None, tax_group_id=None):
    """``POST/PUT /api/v1/products`` body for one ``variant`` of a product document."""
    sku = variant.get("default_code") or None
    barcode = variant.get("barcode") or None
    values = [a["value"] for a in variant.get("attributes") or ()]
    name = f"{product['name']} ({', '.join(values)})" if values else product["name"]
    if not sku and not barcode:
        raise MappingError(f"product {name!r} has neither an internal reference nor a barcode")
    price = variant.get("price_cents")
    if price is None:
        price = product.get("list_price_cents", 0) + variant.get("price_extra_cents", 0)
    return {
        "sku": sku,
        "barcode": barcode,
        "name": name,
        "description": product.get("description") or None,
        "departmentId": department_id,
        "costPrice": max(variant.get("cost_cents", product.get("cost_cents")) or 0, 0),
        "sellPrice": max(price, 0),
        "taxGroupId": tax_group_id,
        "trackStock": bool(product.get("is_storable")),
    }


def customer_body(customer):
    """``POST /api/v1/customers`` body for a sale document's customer."""
    return {
        "name": customer["name"],
        "code": customer.get("ref") or f"odoo-{customer['id']}",
        "email": customer.get("email") or None,
        "phone": customer.get("phone") or None,
        "address": customer.get("street") or None,
        "city": customer.get("city") or None,
        "postcode": customer.get("zip") or None,
        "country": customer.get("country_code") or None,
        "taxNumber": customer.get("vat") or None,
    }


def _unit_price(line, subtotal):
    """Unit price before discount, tax excluded, in cents (HQ's ``unitPrice``)."""
    qty = line["qty"]
    if not qty:
        return 0
    factor = 1 - (line.get("discount_percent") or 0) / 100
    if factor > 0:
        return round(subtotal / factor / qty)
    included = sum(t["rate_bp"] for t in line["taxes"] if t.get("price_include"))
    return round(line["unit_price_cents"] / (1 + included / 10000))


def _item(line, product_id):
    rates = tax_rates(line["taxes"])
    by_name = sorted(line["taxes"], key=lambda t: (t.get("sequence") or 0, t.get("id") or 0))
    taxes = [
        {
            "taxRateName": r["name"],
            "rate": r["rate"],
            "taxAmount": t["amount_cents"],
            "isCompound": r["isCompound"],
            "sortOrder": r["sortOrder"],
        }
        for r, t in zip(rates, by_name, strict=True)
    ]
    # an untaxed line is all subtotal (a balancing cent the document put between its subtotal
    # and its total goes to the order's tax on a taxed line, see sale_body)
    subtotal = line["subtotal_cents"] if line["taxes"] else line["total_cents"]
    unit_price = _unit_price(line, subtotal)
    gross = round(line["qty_milli"] * unit_price / 1000)
    return {
        "productId": product_id,
        "productName": line["product_name"],
        "quantity": line["qty_milli"],
        "unitPrice": unit_price,
        "taxRate": sum(r["rate"] for r in rates),
        "taxAmount": line["total_cents"] - subtotal,
        "discountAmount": gross - subtotal if line.get("discount_percent") else 0,
        "lineTotal": line["total_cents"],
        "taxes": taxes,
    }


def _move(item, cents):
    """Move ``cents`` from the item's tax-excluded part to its tax (line total unchanged)."""
    item["taxAmount"] += cents
    if item["discountAmount"]:
        item["discountAmount"] += cents  # else HQ's half-a-cent-per-unit tolerance absorbs it


def _settle_taxes(item):
    """Make the item's taxes sum to its ``taxAmount`` (the residue on the last one)."""
    if item["taxes"]:
        residue = item["taxAmount"] - sum(t["taxAmount"] for t in item["taxes"])
        item["taxes"][-1]["taxAmount"] += residue
    elif item["taxAmount"]:
        raise MappingError(f"line {item['productName']!r} has tax but no tax rate")


def sale_body(
    doc, *, receipt, store_id, terminal_id, cashier_id, customer_id=None, product_ids, tenders
):
    """``POST /api/v1/sales`` body for a neutral sale document.

    ``product_ids`` maps Odoo product ids to HQ product ids, ``tenders`` POS payment method ids
    to HQ tender codes. Items sum to ``grandTotal`` = Odoo's ``amount_total`` in cents; their
    taxes sum to ``taxTotal`` = Odoo's ``amount_tax`` in cents (a rounding cent is moved
    between a line's tax-excluded part and its tax, never between lines' totals).
    """
    if not doc["lines"]:
        raise MappingError(f"order {doc['reference']} has no lines")
    items = []
    for line in doc["lines"]:
        if line["product_id"] not in product_ids:
            raise MappingError(f"product {line['product_name']!r} is not bound to HQ")
        items.append(_item(line, product_ids[line["product_id"]]))
    grand_total = doc["amount_total_cents"]
    residue = grand_total - sum(i["lineTotal"] for i in items)
    if residue:  # a document whose lines were not balanced: the largest line takes it
        largest = max(items, key=lambda i: abs(i["lineTotal"]))
        largest["lineTotal"] += residue
        largest["taxAmount"] += residue if largest["taxes"] else 0
    tax_residue = doc["amount_tax_cents"] - sum(i["taxAmount"] for i in items)
    taxed = [i for i in items if i["taxes"]]
    taxed.sort(key=lambda i: -abs(i["taxAmount"]))
    for position in range(abs(tax_residue) if taxed else 0):  # a cent per line, largest first
        _move(taxed[position % len(taxed)], 1 if tax_residue > 0 else -1)
    for item in items:
        _settle_taxes(item)
    payments = []
    for payment in doc["payments"]:
        if payment.get("is_change"):
            continue  # HQ infers the change from the cash tendered
        code = tenders.get(payment["method_id"])
        if not code:
            raise MappingError(f"POS payment method {payment['method_name']!r} has no HQ tender")
        payments.append(
            {
                "method": code,
                "amount": payment["amount_cents"],
                "reference": payment.get("reference") or None,
            }
        )
    if not payments:
        raise MappingError(f"order {doc['reference']} has no payment")
    tax_total = sum(i["taxAmount"] for i in items)
    return {
        "receiptNumber": receipt,
        "cashierId": cashier_id,
        "terminalId": terminal_id,
        "storeId": store_id,
        "salesRepId": None,
        "customerId": customer_id,
        "subtotal": grand_total - tax_total,
        "taxTotal": tax_total,
        "discountTotal": sum(i["discountAmount"] for i in items),
        "grandTotal": grand_total,
        "items": items,
        "payments": payments,
    }


def refund_receipt(reference, original_receipt):
    """Receipt number of a partial refund: its own reference, naming the original sale."""
    return f"{reference} (refund of {original_receipt})"


def is_full_refund(refund, original):
    """Whether the refund document gives back all of the original document (every line)."""
    if refund["amount_total_cents"] != -original["amount_total_cents"]:
        return False
    given = {}
    for line in refund["lines"]:
        given[line["product_id"]] = given.get(line["product_id"], 0) + line["qty_milli"]
    sold = {}
    for line in original["lines"]:
        sold[line["product_id"]] = sold.get(line["product_id"], 0) + line["qty_milli"]
    return all(given.get(product, 0) == -qty for product, qty in sold.items())
