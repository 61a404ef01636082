"""Field transformations, in and out (sync-api-reference "Field Transformations").

Datetimes ISO 8601 UTC, dates ``YYYY-MM-DD``, many2one ``{"id", "name"}`` out and an id or
``{"id": ...}`` in, x2many id lists out and Odoo commands in, binaries base64 and only when
asked for; unknown and read-only input fields are a 400 naming the field.
"""

import base64
import datetime
import io

from PIL import Image

from odoo.tests import tagged

from .data_common import ApiSyncDataCase


def png_base64(color="red"):
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), color).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


@tagged("post_install", "-at_install")
class TestFieldTransform(ApiSyncDataCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # the output is UTC whatever the user's timezone
        cls.api_user.tz = "Asia/Tokyo"
        cls.pricelist = cls.env["product.pricelist"].create({"name": "Transform PL"})
        cls.belgium = cls.env.ref("base.be")
        cls.france = cls.env.ref("base.fr")
        cls.categories = cls.env["res.partner.category"].create(
            [{"name": "Tag A"}, {"name": "Tag B"}, {"name": "Tag C"}]
        )
        cls.partner = cls.Partner.create({"name": "Transform Co", "is_company": True})

    def api_create(self, model, data, return_fields=None, status=201):
        body = {"data": data}
        if return_fields:
            body["options"] = {"return_fields": return_fields}
        return self.assertApiOk(self.api("POST", f"/{model}", json=body), status)

    def api_read(self, model, record_id, fields):
        return self.assertApiOk(
            self.api("GET", f"/{model}/{record_id}", params={"fields": ",".join(fields)})
        )["data"]

    def api_update(self, model, record_id, data):
        return self.assertApiOk(self.api("PUT", f"/{model}/{record_id}", json={"data": data}))

    # -- dates and datetimes ---------------------------------------------------------------------
    def test_datetime_in_and_out(self):
        result = self.api_create("product.pricelist.item", {
            "pricelist_id": self.pricelist.id,
            "fixed_price": 5.0,
            "date_start": "2024-01-15T10:30:00Z",
            "date_end": "2024-01-16T12:00:00+02:00",
        }, ["date_start", "date_end"])  # fmt: skip
        item = self.env["product.pricelist.item"].browse(result["id"])
        self.assertEqual(item.date_start, datetime.datetime(2024, 1, 15, 10, 30))
        self.assertEqual(item.date_end, datetime.datetime(2024, 1, 16, 10, 0))
        self.assertEqual(result["data"]["date_start"], "2024-01-15T10:30:00Z")
        self.assertEqual(result["data"]["date_end"], "2024-01-16T10:00:00Z")
        data = self.api_read(
            "product.pricelist.item", item.id, ["date_start", "date_end", "write_date"]
        )
        self.assertEqual(data["date_start"], "2024-01-15T10:30:00Z")
        self.assertEqual(data["write_date"], item.write_date.strftime("%Y-%m-%dT%H:%M:%SZ"))
        # a naive value is UTC; null clears
        self.api_update(
            "product.pricelist.item",
            item.id,
            {"date_start": "2024-03-01T08:00:00", "date_end": None},
        )
        self.assertEqual(item.date_start, datetime.datetime(2024, 3, 1, 8, 0))
        self.assertFalse(item.date_end)
        self.assertIsNone(
            self.api_read("product.pricelist.item", item.id, ["date_end"])["date_end"]
        )

    def test_datetime_invalid(self):
        for value in ("15/01/2024 10:30", "2024-01-15T25:00:00Z", 1705314600, "tomorrow"):
            with self.subTest(value=value):
                response = self.api("POST", "/product.pricelist.item", json={
                    "data": {"pricelist_id": self.pricelist.id, "date_start": value},
                })  # fmt: skip
                error = self.assertApiError(response, 400, "VALIDATION_ERROR", field="date_start")
                self.assertIn(error["details"]["constraint"], ("format", "type"))
        self.assertFalse(
            self.env["product.pricelist.item"].search([("pricelist_id", "=", self.pricelist.id)])
        )

    def test_date_in_and_out(self):
        template = self.env["product.template"].create({"name": "Dated"})
        result = self.api_create("product.supplierinfo", {
            "partner_id": self.partner.id,
            "product_tmpl_id": template.id,
            "price": 3.5,
            "date_start": "2024-01-15",
        }, ["date_start", "date_end", "partner_id"])  # fmt: skip
        info = self.env["product.supplierinfo"].browse(result["id"])
        self.assertEqual(info.date_start, datetime.date(2024, 1, 15))
        self.assertEqual(result["data"]["date_start"], "2024-01-15")
        self.assertIsNone(result["data"]["date_end"])
        self.assertEqual(
            result["data"]["partner_id"], {"id": self.partner.id, "name": "Transform Co"}
        )
        response = self.api(
            "PUT", f"/product.supplierinfo/{info.id}", json={"data": {"date_end": "2024-13-01"}}
        )
        self.assertApiError(response, 400, "VALIDATION_ERROR", field="date_end")
        self.assertFalse(info.date_end)

    # -- many2one --------------------------------------------------------------------------------
    def test_many2one_out(self):
        self.partner.country_id = self.belgium
        data = self.api_read(
            "res.partner", self.partner.id, ["country_id", "state_id", "parent_id"]
        )
        self.assertEqual(data["country_id"], {"id": self.belgium.id, "name": self.belgium.name})
        self.assertIsNone(data["state_id"])
        self.assertIsNone(data["parent_id"])

    def test_many2one_in(self):
        # as an id
        result = self.api_create(
            "res.partner", {"name": "M2O id", "country_id": self.belgium.id}, ["country_id"]
        )
        self.assertEqual(
            result["data"]["country_id"], {"id": self.belgium.id, "name": self.belgium.name}
        )
        partner = self.Partner.browse(result["id"])
        self.assertEqual(partner.country_id, self.belgium)
        # as the spec's object form, name included (ignored)
        self.api_update(
            "res.partner", partner.id, {"country_id": {"id": self.france.id, "name": "France"}}
        )
        self.assertEqual(partner.country_id, self.france)
        # as {"id": ...}
        self.api_update("res.partner", partner.id, {"parent_id": {"id": self.partner.id}})
        self.assertEqual(partner.parent_id, self.partner)
        # null clears
        self.api_update("res.partner", partner.id, {"country_id": None})
        self.assertFalse(partner.country_id)

    def test_many2one_invalid(self):
        for value, constraint in (
            ("abc", "type"),
            ({"name": "Belgium"}, "type"),
            (-3, "type"),
            (True, "type"),
            (2_000_000_000, "exists"),
        ):
            with self.subTest(value=value):
                response = self.api(
                    "POST", "/res.partner", json={"data": {"name": "Bad M2O", "country_id": value}}
                )
                error = self.assertApiError(response, 400, "VALIDATION_ERROR", field="country_id")
                self.assertEqual(error["details"]["constraint"], constraint)
        self.assertFalse(self.Partner.search([("name", "=", "Bad M2O")]))

    # -- x2many ----------------------------------------------------------------------------------
    def test_x2many_out_as_id_lists(self):
        child = self.Partner.create({"name": "Kid", "parent_id": self.partner.id})
        self.partner.category_id = self.categories[:2]
        data = self.api_read("res.partner", self.partner.id, ["child_ids", "category_id"])
        self.assertEqual(data["child_ids"], [child.id])
        self.assertEqual(sorted(data["category_id"]), sorted(self.categories[:2].ids))

    def test_one2many_commands(self):
        result = self.api_create("res.partner", {
            "name": "O2M Co",
            "is_company": True,
            "child_ids": [[0, 0, {"name": "Child 1", "email": "c1@example.com"}],
                          [0, 0, {"name": "Child 2"}]],
        }, ["child_ids"])  # fmt: skip
        company = self.Partner.browse(result["id"])
        self.assertEqual(sorted(company.child_ids.mapped("name")), ["Child 1", "Child 2"])
        self.assertEqual(sorted(result["data"]["child_ids"]), sorted(company.child_ids.ids))
        first = company.child_ids.filtered(lambda c: c.name == "Child 1")
        second = company.child_ids - first
        # update one, delete the other (spec: [1, id, {...}] and [2, id, false])
        self.api_update(
            "res.partner",
            company.id,
            {"child_ids": [[1, first.id, {"name": "Child 1bis"}], [2, second.id, False]]},
        )
        self.assertEqual(first.name, "Child 1bis")
        self.assertFalse(second.exists())
        self.assertEqual(company.child_ids, first)
        # nested values are converted and checked like top-level ones
        response = self.api(
            "PUT",
            f"/res.partner/{company.id}",
            json={"data": {"child_ids": [[0, 0, {"name": "X", "nope": 1}]]}},
        )
        self.assertApiError(response, 400, "VALIDATION_ERROR", field="nope")
        response = self.api(
            "PUT",
            f"/res.partner/{company.id}",
            json={"data": {"child_ids": [[0, 0, {"name": "X", "country_id": "be"}]]}},
        )
        self.assertApiError(response, 400, "VALIDATION_ERROR", field="country_id")
        self.assertEqual(company.child_ids, first)

    def test_many2many_commands(self):
        tag_a, tag_b, tag_c = self.categories
        path = f"/res.partner/{self.partner.id}"
        # spec: [6, 0, [ids]] replaces all
        self.api_update(
            "res.partner", self.partner.id, {"category_id": [[6, 0, [tag_a.id, tag_b.id]]]}
        )
        self.assertEqual(self.partner.category_id, tag_a | tag_b)
        self.api_update("res.partner", self.partner.id, {"category_id": [[6, 0, [tag_c.id]]]})
        self.assertEqual(self.partner.category_id, tag_c)
        # a plain id list also replaces; [4, id] links, [3, id] unlinks
        self.api_update("res.partner", self.partner.id, {"category_id": [tag_a.id]})
        self.assertEqual(self.partner.category_id, tag_a)
        self.api_update(
            "res.partner", self.partner.id, {"category_id": [[4, tag_b.id], [3, tag_a.id]]}
        )
        self.assertEqual(self.partner.category_id, tag_b)
        self.assertTrue(tag_a.exists())
        self.api_update("res.partner", self.partner.id, {"category_id": []})
        self.assertFalse(self.partner.category_id)
        # bad commands and missing ids
        for value in (
            [[9, 0, 0]],
            [[6, 0, ["x"]]],
            [[6, 0, [2_000_000_000]]],
            "tag",
            [[1, tag_a.id]],
        ):
            with self.subTest(value=value):
                response = self.api("PUT", path, json={"data": {"category_id": value}})
                self.assertApiError(response, 400, "VALIDATION_ERROR", field="category_id")
        self.assertFalse(self.partner.category_id)

    # -- binary ----------------------------------------------------------------------------------
    def test_binary_only_when_asked(self):
        image = png_base64()
        result = self.api_create("res.partner", {"name": "Pictured", "image_1920": image})
        partner = self.Partner.browse(result["id"])
        self.assertTrue(partner.image_1920)
        default = self.assertApiOk(self.api("GET", f"/res.partner/{partner.id}"))["data"]
        self.assertEqual(default["name"], "Pictured")
        self.assertFalse({"image_1920", "image_128", "avatar_128"} & set(default))
        data = self.api_read("res.partner", partner.id, ["image_1920"])
        self.assertIsInstance(data["image_1920"], str)
        self.assertEqual(data["image_1920"], partner.image_1920.decode())
        self.assertTrue(base64.b64decode(data["image_1920"]).startswith(b"\x89PNG"))
        response = self.api(
            "PUT", f"/res.partner/{partner.id}", json={"data": {"image_1920": "not base64 !!"}}
        )
        self.assertApiError(response, 400, "VALIDATION_ERROR", field="image_1920")
        self.assertEqual(
            self.api_read("res.partner", partner.id, ["image_1920"])["image_1920"],
            data["image_1920"],
        )

    # -- scalars ---------------------------------------------------------------------------------
    def test_scalar_types(self):
        result = self.api_create("res.partner", {
            "name": "Scalars", "is_company": True, "color": 3, "comment": "<p>Hi</p>",
            "type": "invoice", "email": None,
        }, ["is_company", "color", "type", "email", "employee"])  # fmt: skip
        self.assertEqual(result["data"]["is_company"], True)
        self.assertEqual(result["data"]["employee"], False)  # booleans are never null
        self.assertEqual(result["data"]["color"], 3)
        self.assertEqual(result["data"]["type"], "invoice")
        self.assertIsNone(result["data"]["email"])
        for field, value, constraint in (
            ("is_company", "yes", "type"), ("color", "3", "type"), ("color", 1.5, "type"),
            ("name", 42, "type"), ("type", "bogus", "selection"), ("name", "a\u0000b", "format"),
            ("comment", "\u0000", "format"), ("color", 2**31, "range"),
        ):  # fmt: skip
            with self.subTest(field=field, value=value):
                response = self.api(
                    "PUT", f"/res.partner/{result['id']}", json={"data": {field: value}}
                )
                error = self.assertApiError(response, 400, "VALIDATION_ERROR", field=field)
                self.assertEqual(error["details"]["constraint"], constraint)

    # -- unknown and read-only fields ------------------------------------------------------------
    def test_unknown_field(self):
        response = self.api("POST", "/res.partner", json={"data": {"name": "U", "nope": 1}})
        error = self.assertApiError(response, 400, "VALIDATION_ERROR", field="nope")
        self.assertEqual(error["details"]["constraint"], "field")
        response = self.api("PUT", f"/res.partner/{self.partner.id}", json={"data": {"nope": 1}})
        self.assertApiError(response, 400, "VALIDATION_ERROR", field="nope")
        response = self.api(
            "GET", f"/res.partner/{self.partner.id}", params={"fields": "name,nope"}
        )
        self.assertApiError(response, 400, "VALIDATION_ERROR", field="nope")
        self.assertFalse(self.Partner.search([("name", "=", "U")]))

    def test_read_only_field(self):
        for field, value in (
            ("create_date", "2024-01-15T10:30:00Z"),
            ("id", 7),
            ("display_name", "X"),
            ("commercial_partner_id", self.partner.id),
            ("write_uid", self.api_user.id),
        ):
            with self.subTest(field=field):
                response = self.api(
                    "PUT",
                    f"/res.partner/{self.partner.id}",
                    json={"data": {"name": "Changed", field: value}},
                )
                error = self.assertApiError(response, 400, "VALIDATION_ERROR", field=field)
                self.assertEqual(error["details"]["constraint"], "readonly")
        self.assertEqual(self.partner.name, "Transform Co")
