"""Products to Tactill through the outbox (issue #9): create, change, archive, unmapped field,
category and tax created once, a template with variants, bad input."""

from odoo.tests import tagged

from .tactill_common import TactillCase


@tagged("post_install", "-at_install")
class TestTactillProducts(TactillCase):
    def test_create_change_archive(self):
        cola = self.make_product("Cola", 1.5, taxes=(self.tax_825,), default_code="COLA",
                                 barcode="5449000000996", pos_categ_ids=[(6, 0, self.pos_categ.ids)])
        self.dispatch()
        [product] = self.double.items("products")
        self.assertEqual((product["name"], product["sell_price"], product["reference"]),
                         ("Cola", 150, "COLA"))  # fmt: skip
        self.assertEqual(product["barcode"], "5449000000996")
        self.assertEqual(self.bound(cola.product_tmpl_id), product["id"])
        self.assertTrue(all(d.state == "done" for d in self.deliveries()))

        cola.product_tmpl_id.list_price = 1.75
        self.dispatch()
        [patch] = self.double.writes("/v0/products")[-1:]
        self.assertEqual(patch["method"], "PATCH")
        self.assertEqual(patch["body"], {"id": product["id"], "sell_price": 175})

        cola.product_tmpl_id.active = False
        self.dispatch()
        self.assertEqual(self.double.requests[-1]["method"], "DELETE")
        self.assertEqual(self.double.items("products")[0].get("deleted"), True)
        self.assertFalse(self.bound(cola.product_tmpl_id))

    def test_unmapped_field_change_sends_nothing(self):
        gum = self.make_product("Gum", 0.5, taxes=(self.tax_825,), default_code="GUM")
        self.dispatch()
        before = len(self.double.requests)
        queued = len(self.deliveries())
        gum.product_tmpl_id.description = "<p>Internal notes nobody maps</p>"
        self.commit_changes()
        self.assertEqual(len(self.deliveries()), queued, "nothing queued")
        gum.product_tmpl_id.list_price = 0.5  # same value: a delivery, an unchanged body
        self.dispatch()
        self.assertEqual(len(self.double.requests), before, "nothing sent")

    def test_category_and_tax_created_once(self):
        for index in range(3):
            self.make_product(f"Juice {index}", 2.0, taxes=(self.tax_825,),
                              pos_categ_ids=[(6, 0, self.pos_categ.ids)])  # fmt: skip
        self.dispatch()
        self.assertEqual(len(self.double.items("products")), 3)
        self.assertEqual(len(self.double.items("categories")), 1)
        self.assertEqual(len(self.double.items("taxes")), 1)
        self.assertEqual(self.double.items("taxes")[0]["rate"], 825)
        self.assertEqual(self.double.items("categories")[0]["name"], "Drinks")

    def test_template_with_variants(self):
        size = self.env["product.attribute"].create(
            {"name": "Size", "value_ids": [(0, 0, {"name": "S"}), (0, 0, {"name": "L"})]}
        )
        shirt = self.env["product.template"].create({
            "name": "Shirt", "list_price": 20.0, "available_in_pos": True,
            "taxes_id": [(6, 0, self.tax_825.ids)],
            "attribute_line_ids": [(0, 0, {"attribute_id": size.id,
                                           "value_ids": [(6, 0, size.value_ids.ids)]})],
        })  # fmt: skip
        large = shirt.product_variant_ids.filtered(
            lambda p: p.product_template_attribute_value_ids.name == "L"
        )
        large.default_code = "SHIRT-L"
        shirt.attribute_line_ids.product_template_value_ids.filtered(
            lambda v: v.name == "L"
        ).price_extra = 2.0
        self.dispatch()
        [product] = self.double.items("products")
        self.assertEqual(product["options"], ["Size"])
        variations = {v["reference"]: v for v in product["variations"]}
        self.assertEqual(len(product["variations"]), 2)
        self.assertEqual(variations["SHIRT-L"]["sell_price"], 2200)
        self.assertEqual(variations["SHIRT-L"]["options"], [{"name": "Size", "value": "L"}])
        self.assertEqual(self.bound(large), f"odoo-{large.id}")
        # all variants of the template queue behind each other
        self.assertEqual(set(self.deliveries().mapped("record_key")),
                         {f"product.template,{shirt.id}"})  # fmt: skip

    def test_product_without_tax_fails_clearly_and_others_go_on(self):
        bad = self.make_product("No tax", 1.0)
        good = self.make_product("Taxed", 1.0, taxes=(self.tax_825,))
        self.dispatch()
        failed = self.deliveries(state="dead")
        self.assertEqual(len(failed), 1)
        self.assertIn("has no sales tax", failed.last_error)
        self.assertEqual(failed.event_id.res_id, bad.product_tmpl_id.id)
        self.assertTrue(self.bound(good.product_tmpl_id))
        self.assertEqual(len(self.double.items("products")), 1)
        # fixed, then replayed
        bad.taxes_id = self.tax_825
        failed.action_redeliver()
        self.dispatch()
        self.assertEqual(len(self.double.items("products")), 2)
