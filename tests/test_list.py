"""``GET /api/sync/v1/{model}``: the paginated list of the spec's "Pagination" section."""

import json
from urllib.parse import parse_qs, urlsplit

from odoo.tests import tagged

from .common import API
from .data_common import ApiSyncDataCase


@tagged("post_install", "-at_install")
class TestList(ApiSyncDataCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pages_partners = cls.Partner.create(
            [{"name": f"Paged {i:02d}", "ref": "paged"} for i in range(7)]
        )
        cls.domain = json.dumps([["ref", "=", "paged"]])

    def follow(self, link):
        self.assertTrue(link.startswith(API + "/res.partner?"), link)
        return self.assertApiOk(
            self.url_open(link, headers={"Authorization": f"Bearer {self.api_key}"})
        )

    def test_spec_pagination_shape(self):
        """No parameter: 50 per page, ``next`` is exactly ``/api/sync/v1/res.partner?page=2``."""
        self.Partner.create([{"name": f"Filler {i}"} for i in range(60)])
        total = self.Partner.with_user(self.api_user).search_count([])
        result = self.assertApiOk(self.api("GET", "/res.partner"))
        self.assertEqual(set(result), {"success", "data", "pagination", "request_id"})
        self.assertEqual(result["pagination"], {
            "total": total,
            "page": 1,
            "per_page": 50,
            "pages": -(-total // 50),
            "next": "/api/sync/v1/res.partner?page=2",
            "previous": None,
        })  # fmt: skip
        self.assertEqual(len(result["data"]), 50)
        self.assertNotIn("image_1920", result["data"][0])

    def test_walk_pages(self):
        params = {"domain": self.domain, "per_page": 3, "order": "name", "fields": "name"}
        first = self.assertApiOk(self.api("GET", "/res.partner", params=params))
        self.assertEqual([r["name"] for r in first["data"]], ["Paged 00", "Paged 01", "Paged 02"])
        self.assertEqual(first["pagination"]["total"], 7)
        self.assertEqual(first["pagination"]["pages"], 3)
        self.assertIsNone(first["pagination"]["previous"])
        # the next link keeps the other parameters
        query = parse_qs(urlsplit(first["pagination"]["next"]).query)
        self.assertEqual(
            query,
            {
                "domain": [self.domain],
                "per_page": ["3"],
                "order": ["name"],
                "fields": ["name"],
                "page": ["2"],
            },
        )
        second = self.follow(first["pagination"]["next"])
        self.assertEqual([r["name"] for r in second["data"]], ["Paged 03", "Paged 04", "Paged 05"])
        self.assertEqual(second["pagination"]["page"], 2)
        third = self.follow(second["pagination"]["next"])
        self.assertEqual([r["name"] for r in third["data"]], ["Paged 06"])
        self.assertIsNone(third["pagination"]["next"])
        back = self.follow(third["pagination"]["previous"])
        self.assertEqual(back["data"], second["data"])
        self.assertEqual(set(third["data"][0]), {"id", "name"})

    def test_page_past_the_end(self):
        result = self.assertApiOk(
            self.api(
                "GET", "/res.partner", params={"domain": self.domain, "per_page": 3, "page": 9}
            )
        )
        self.assertEqual(result["data"], [])
        self.assertEqual(result["pagination"]["total"], 7)
        self.assertIsNone(result["pagination"]["next"])

    def test_empty_result(self):
        result = self.assertApiOk(self.api(
            "GET", "/res.partner", params={"domain": json.dumps([["ref", "=", "nothing"]])}
        ))  # fmt: skip
        self.assertEqual(result["data"], [])
        self.assertEqual(result["pagination"]["total"], 0)
        self.assertEqual(result["pagination"]["pages"], 1)
        self.assertIsNone(result["pagination"]["next"])
        self.assertIsNone(result["pagination"]["previous"])

    def test_bad_parameters(self):
        for params, field in (
            ({"page": 0}, "page"),
            ({"page": "x"}, "page"),
            ({"per_page": 0}, "per_page"),
            ({"per_page": 10**9}, "per_page"),
            ({"domain": "not json"}, "domain"),
            ({"order": "name;drop"}, "order"),
        ):
            with self.subTest(params=params):
                self.assertApiError(
                    self.api("GET", "/res.partner", params=params),
                    400,
                    "VALIDATION_ERROR",
                    field=field,
                )
