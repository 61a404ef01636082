"""Pushing Odoo records to Tactill: products (with category, tax, variations), customers and
sales, bound on the way so that each goes once.

Works on a backend record (its env, its bindings) and a :class:`TactillClient`; the mapping
itself is in ``tactill_mapper`` (pure). ``retrying`` (the delivery failed before, maybe after
the request left) makes creations look the resource up first: exactly once.
"""

from .delivery import DeliveryError
from .sale_document import to_cents
from .tactill_mapper import (
    category_body,
    customer_body,
    digest,
    product_body,
    product_patch,
    product_reference,
    refund_status,
    sale_body,
    tax_body,
    variant_body,
    variant_id,
)

SALE_STATES = ("paid", "done", "invoiced")
SALE_CREATE_ONLY = ("original_id", "shop_id", "opened_at")


class TactillExporter:
    def __init__(self, backend, client, retrying=False):
        self.backend = backend
        self.env = backend.env
        self.client = client
        self.retrying = retrying
        self.Binding = self.env["api.sync.binding"].sudo()

    def _binding(self, res_model, res_id):
        return self.Binding._of(self.backend, res_model, [res_id]).get(res_id)

    def _bound(self, res_model, res_id):
        binding = self._binding(res_model, res_id)
        return binding.external_id if binding and binding.sync_state != "deleted" else None

    def _record(self, res_model, res_id, external_id, body=None):
        binding = self.Binding._record(self.backend, res_model, res_id, external_id, body)
        self.backend._sink_commit()  # what Tactill now has is known, whatever happens next
        return binding

    # -- catalogue -------------------------------------------------------------------------------
    def ensure_category(self, product):
        category = product["category"]
        if not category:
            raise DeliveryError(self.env._(
                "Product %(p)s has no category: Tactill requires one (set a POS category or a "
                "product category)", p=product["name"],
            ))  # fmt: skip
        external = self._bound(category["model"], category["id"])
        if external:
            return external
        body = category_body(category)
        found = self.retrying and self.client.find_one("category.search", "name", body["name"])
        external = found["id"] if found else self.client.call("category.create", body)["id"]
        self._record(category["model"], category["id"], external, body)
        return external

    def ensure_tax(self, product):
        if not product["taxes"]:
            raise DeliveryError(self.env._(
                "Product %(p)s has no sales tax: Tactill requires one", p=product["name"]
            ))  # fmt: skip
        tax = product["taxes"][0]
        external = self._bound("account.tax", tax["id"])
        if external:
            return external
        body = tax_body(tax)
        found = self.retrying and self.client.find_one("tax.search", "rate", body["rate"])
        external = found["id"] if found else self.client.call("tax.create", body)["id"]
        self._record("account.tax", tax["id"], external, body)
        return external

    def push_template(self, template, force=False):
        """Create, update (changed fields only) or delete a product as Odoo has it now.

        ``force``: push it even out of the backend's scope (a product an order sold).
        Returns a short summary for the delivery.
        """
        binding = self._binding("product.template", template.id)
        external = binding.external_id if binding and binding.sync_state != "deleted" else None
        template = template.with_context(active_test=False).exists()
        doc = template._api_sync_product_document() if template else None
        carried = doc and doc["variants"] and (
            force or self.backend._product_in_scope(template)
        )  # fmt: skip
        if not carried:
            if not external:
                return "not carried: nothing to send"
            self.client.call("product.delete", id=external)
            binding.write({"sync_state": "deleted", "external_id": False, "digest": False,
                           "body": False})  # fmt: skip
            return f"product {external} deleted"
        category_id = self.ensure_category(doc)
        tax_id = self.ensure_tax(doc)
        body = product_body(doc, category_id, tax_id)
        found = None
        if external:
            summary = f"product {external} unchanged"
            if binding.digest != digest(body):
                patch = product_patch(external, binding.body, body)
                if patch:
                    self.client.call("product.patch", patch)
                    summary = f"product {external} updated: {', '.join(sorted(patch)[:-1] or patch)}"
        else:
            reference = product_reference(doc)
            found = self.retrying and self.client.find_product(reference)
            external = found["id"] if found else self.client.call("product.create", body)["id"]
            summary = f"product {external} {'found' if found else 'created'}"
        self._record("product.template", template.id, external, body)
        self._push_variants(doc, external, tax_id, found)
        return summary

    def _push_variants(self, doc, external, tax_id, found):
        if not doc["has_variants"]:
            for variant in doc["variants"]:
                if self._bound("product.product", variant["id"]) != external:
                    self._record("product.product", variant["id"], external)
            return
        existing = {v.get("variant_id") for v in (found or {}).get("variations") or ()}
        bindings = self.Binding._of(self.backend, "product.product",
                                    [v["id"] for v in doc["variants"]])  # fmt: skip
        for variant in doc["variants"]:
            body = variant_body(external, variant, tax_id)
            binding = bindings.get(variant["id"])
            known = binding and binding.external_id and binding.body
            if known and binding.body.get("product_id") == external:
                if binding.digest == digest(body):
                    continue
                self.client.call("variant.update", body)
            elif variant_id(variant) in existing:
                self.client.call("variant.update", body)
            else:
                try:
                    self.client.call("variant.create", body)
                except DeliveryError as exc:
                    if exc.status != 409:  # created by an attempt whose answer was lost
                        raise
                    self.client.call("variant.update", body)
            self._record("product.product", variant["id"], variant_id(variant), body)

    def ensure_product(self, product):
        """{"product_id", "variant_id"} of a product.product, pushing it when not bound."""
        template = product.product_tmpl_id
        external = self._bound("product.template", template.id)
        variant = self._bound("product.product", product.id)
        if not (external and variant):
            self.push_template(template, force=True)
            external = self._bound("product.template", template.id)
            variant = self._bound("product.product", product.id)
        if not (external and variant):
            raise DeliveryError(self.env._(
                "Product %(p)s could not be pushed to Tactill", p=product.display_name
            ))  # fmt: skip
        return {"product_id": external, "variant_id": None if variant == external else variant}

    # -- customers and sales -----------------------------------------------------------------
    def ensure_customer(self, customer):
        external = self._bound("res.partner", customer["id"])
        if external:
            return external
        body = customer_body(customer)
        found = self.retrying and self.client.find_customer(body["original_id"])
        external = found["id"] if found else self.client.call("customer.create", body)["id"]
        self._record("res.partner", customer["id"], external, body)
        return external

    def _refunded_cents(self, order):
        refunds = order.lines.refund_orderline_ids.order_id.filtered(
            lambda o: o.state in SALE_STATES
        )
        return -sum(to_cents(o.amount_total, o.currency_id.rounding) for o in refunds)

    def push_sale(self, order):
        """Create or update the sale of a paid order (its products, customer and, for a
        refund, the original sale first); returns a short summary."""
        if order.state not in SALE_STATES:
            return f"order in state {order.state}: nothing to send"
        configs = self.backend.pos_config_ids
        if configs and order.config_id not in configs:
            return "order of a POS this backend does not carry: nothing to send"
        doc = order._api_sync_sale_document()
        products = {}
        for product in order.lines.product_id:
            products[product.id] = self.ensure_product(product)
        customer_id = self.ensure_customer(doc["customer"]) if doc["customer"] else None
        target = original = None
        if doc["is_refund"] and order.refunded_order_id:
            original = order.refunded_order_id
            if not self._bound("pos.order", original.id):
                self.push_sale(original)
            target = (
                self._bound("pos.order", original.id),
                to_cents(original.amount_total, original.currency_id.rounding),
            )
        backend = self.backend
        body = sale_body(
            doc,
            {"shop_id": backend.shop_id, "source_id": backend.source_id,
             "source_name": backend.source_name},
            products,
            customer_id=customer_id,
            target=target,
            number=order.sequence_number or None,
            refunded_cents=0 if doc["is_refund"] else self._refunded_cents(order),
            method_types=backend.payment_method_map or {},
        )  # fmt: skip
        binding = self._binding("pos.order", order.id)
        external = binding.external_id if binding else None
        if external:
            if binding.digest == digest(body):
                return f"sale {external} unchanged"
            update = {k: v for k, v in body.items() if k not in SALE_CREATE_ONLY}
            self.client.call("sale.update", {"id": external, **update})
            summary = f"sale {external} updated"
        else:
            found = self.retrying and self.client.find_sale(doc["uid"])
            external = found["id"] if found else self.client.call("sale.create", body)["id"]
            summary = f"sale {external} {'found' if found else 'created'}"
        self._record("pos.order", order.id, external, body)
        if original:
            self._follow_refund(original)
        return summary

    def _follow_refund(self, original):
        """The original sale's ``refund_status`` follows its refunds."""
        binding = self._binding("pos.order", original.id)
        if not binding or not binding.external_id or not binding.body:
            return
        body = dict(binding.body)
        total = to_cents(original.amount_total, original.currency_id.rounding)
        refunded = self._refunded_cents(original)
        status = refund_status(total, refunded)
        if body.get("refund_status") == status:
            return
        self.client.call("sale.update", {"id": binding.external_id, "refund_status": status})
        body["refund_status"] = status
        self._record("pos.order", original.id, binding.external_id, body)
