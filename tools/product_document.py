"""The neutral product document: a product template and its variants as plain JSON.

Pure functions, no ORM: ``product.template._api_sync_product_document()`` reads the template
once and :func:`build_product_document` shapes it; prices are integer cents of Odoo's
currency-rounded prices.
"""

from .sale_document import rate_basis_points, to_cents


def build_product_document(template, variants, currency_rounding=0.01):
    """The product document of a template read into plain values.

    ``template``: ``id``, ``name``, ``description``, ``list_price``, ``standard_price``,
    ``active``, ``available_in_pos``, ``is_storable``, ``category`` (``{"model", "id",
    "name"}`` or None: the POS category, else the product category), ``taxes`` (``id``,
    ``name``, ``amount`` in percent, ``price_include``); ``variants``: ``id``,
    ``default_code``, ``barcode``, ``attributes`` (``[(attribute, value)]``), ``price_extra``,
    ``standard_price``, ``active``.
    """
    rounding = currency_rounding
    list_price = to_cents(template["list_price"], rounding)
    doc_variants = [
        {
            "id": variant["id"],
            "default_code": variant.get("default_code") or None,
            "barcode": variant.get("barcode") or None,
            "attributes": [
                {"attribute": attribute, "value": value}
                for attribute, value in variant.get("attributes", ())
            ],
            "price_extra_cents": to_cents(variant.get("price_extra", 0.0), rounding),
            "price_cents": list_price + to_cents(variant.get("price_extra", 0.0), rounding),
            "cost_cents": to_cents(variant.get("standard_price", 0.0), rounding),
            "active": bool(variant.get("active", True)),
        }
        for variant in variants
    ]
    first = doc_variants[0] if doc_variants else {}
    return {
        "template_id": template["id"],
        "name": template["name"],
        "description": template.get("description") or None,
        "active": bool(template.get("active", True)),
        "available_in_pos": bool(template.get("available_in_pos")),
        "is_storable": bool(template.get("is_storable")),
        "list_price_cents": list_price,
        "cost_cents": first.get("cost_cents", to_cents(template.get("standard_price"), rounding)),
        "default_code": first.get("default_code"),
        "barcode": first.get("barcode"),
        "category": template.get("category") or None,
        "taxes": [
            {
                "id": tax["id"],
                "name": tax["name"],
                "rate_bp": rate_basis_points(tax["amount"]),
                "price_include": bool(tax.get("price_include")),
            }
            for tax in template.get("taxes", ())
        ],
        "has_variants": len(doc_variants) > 1,
        "variants": doc_variants,
    }
