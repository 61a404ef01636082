from odoo import models

from ..tools.product_document import build_product_document


class ProductTemplate(models.Model):
    _inherit = "product.template"

    def _api_sync_product_document(self):
        """This template and its variants as the neutral product document."""
        self.ensure_one()
        template = self.with_context(active_test=False)
        variants = template.product_variant_ids
        if template.active:
            variants = variants.filtered("active")
        if template.pos_categ_ids:
            categ = template.pos_categ_ids[:1]
            category = {"model": "pos.category", "id": categ.id, "name": categ.name}
        elif template.categ_id:
            categ = template.categ_id
            category = {"model": "product.category", "id": categ.id, "name": categ.name}
        else:
            category = None
        values = {
            "id": template.id,
            "name": template.name,
            "description": template.description_sale,
            "list_price": template.list_price,
            "standard_price": template.standard_price,
            "active": template.active,
            "available_in_pos": template.available_in_pos,
            "is_storable": template.is_storable,
            "category": category,
            "taxes": [
                {"id": tax.id, "name": tax.name, "amount": tax.amount,
                 "price_include": tax.price_include}
                for tax in template.taxes_id.sorted(lambda t: (t.sequence, t.id))
            ],
        }  # fmt: skip
        return build_product_document(
            values,
            [
                {
                    "id": variant.id,
                    "default_code": variant.default_code,
                    "barcode": variant.barcode,
                    "attributes": [
                        (value.attribute_id.name, value.name)
                        for value in variant.product_template_attribute_value_ids
                    ],
                    "price_extra": variant.price_extra,
                    "standard_price": variant.standard_price,
                    "active": variant.active,
                }
                for variant in variants
            ],
            currency_rounding=template.currency_id.rounding,
        )
