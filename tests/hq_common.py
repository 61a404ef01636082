"""Fixtures of the HQ connector tests (issue #10): the HQ double, a POS, a backend, dispatch."""

import threading
import time

from odoo import fields

from .hq_double import HqDouble
from .pos_common import PosFixtures


def wait_until(predicate, timeout=15, message="condition not met in time"):
    """Poll ``predicate`` until it is true, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        pause.wait(0.05)


class HqFixtures(PosFixtures):
    """Class-level HQ double and POS; a fresh double state and backend for each test."""

    access_ttl = 900

    @classmethod
    def setup_hq(cls):
        cls.setup_pos()
        cls.double = HqDouble().start()
        cls.addClassCleanup(cls.double.stop)
        cls.Backend = cls.env["api.sync.hq.backend"]
        cls.Delivery = cls.env["api.sync.delivery"]
        cls.categ = cls.env["product.category"].create({"name": "Groceries"})

    def setUp(self):
        super().setUp()
        self.double.reset()
        self.double.access_ttl = self.access_ttl
        self.backend = self.make_backend()

    def make_backend(self, **values):
        return self.Backend.create(
            {
                "name": "HQ",
                "base_url": self.double.url,
                "username": "manager",
                "pin": "1234",
                "store_id": self.double.store["id"],
                "pos_config_ids": [(6, 0, self.pos_config.ids)],
                **values,
            }
        )

    @classmethod
    def product(cls, name, price, taxes=(), barcode=None, code=None, **values):
        return cls.make_product(
            name,
            price,
            taxes,
            barcode=barcode,
            default_code=code or name.upper().replace(" ", "-"),
            categ_id=cls.categ.id,
            **values,
        )

    # -- outbox ---------------------------------------------------------------------------------
    def dispatch(self):
        """Commit-time capture (precommit), then dispatcher batches until nothing is due."""
        self.env.cr.flush()
        attempted = 0
        while True:
            self.env.invalidate_all()
            count = self.env["api.sync.dispatcher"]._dispatch_batch()
            self.env.flush_all()
            if not count:
                break
            attempted += count
        self.env.invalidate_all()
        return attempted

    def deliveries(self, model=None):
        domain = [("sink_model", "=", self.backend._name), ("sink_id", "=", self.backend.id)]
        if model:
            domain.append(("payload", "!=", False))
        found = self.Delivery.search(domain, order="id")
        if model:
            found = found.filtered(lambda d: d.payload.get("model") == model)
        return found

    def make_due(self, deliveries):
        deliveries.write(
            {"next_attempt_at": fields.Datetime.subtract(fields.Datetime.now(), seconds=1)}
        )

    def binding(self, record):
        return self.env["api.sync.binding"].search(
            [
                ("backend_model", "=", self.backend._name),
                ("backend_id", "=", self.backend.id),
                ("res_model", "=", record._name),
                ("res_id", "=", record.id),
            ]
        )

    def sales(self):
        return list(self.double.sales.values())
