"""Fixtures shared by the data API tests (issue #3): product rights and envelope checks."""

import re

from odoo import Command

from .common import ApiSyncHttpCase

ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


class ApiSyncDataCase(ApiSyncHttpCase):
    """``ApiSyncHttpCase`` whose API user may also manage products and read stock."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.api_user.write({
            "group_ids": [
                Command.link(cls.env.ref("product.group_product_manager").id),
                Command.link(cls.env.ref("stock.group_stock_user").id),
            ],
        })  # fmt: skip
        cls.Partner = cls.env["res.partner"]
        cls.Product = cls.env["product.product"]

    def assertApiOk(self, response, status=200):
        """The response is a success envelope with ``status``; returns its JSON body."""
        self.assertEqual(response.status_code, status, response.text)
        body = response.json()
        self.assertIs(body["success"], True, body)
        self.assertTrue(body["request_id"].startswith("req_"), body)
        self.assertEqual(response.headers["X-Request-Id"], body["request_id"])
        return body

    def error_without_trace(self, error):
        """An error object minus its per-request ``trace_id`` (to compare two calls)."""
        return {key: value for key, value in error.items() if key != "trace_id"}
