"""Fixtures of the Tactill connector tests: the double, a backend pointed at it, POS setup,
and the dispatcher driven in the test transaction as the webhook tests do."""

from odoo import fields
from odoo.tests import HttpCase

from .pos_common import PosFixtures
from .tactill_double import TactillDouble


class TactillCase(PosFixtures, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.double = TactillDouble(budget=3000, window=600).start()
        cls.addClassCleanup(cls.double.stop)
        cls.setup_pos()
        cls.Delivery = cls.env["api.sync.delivery"]
        cls.Binding = cls.env["api.sync.binding"]

    def setUp(self):
        super().setUp()
        self.double.reset()
        self.double.budget, self.double.window = 3000, 600
        self.key = self.double.add_key(test=True)
        self.backend = self.env["api.sync.tactill.backend"].create({
            "name": "Tactill test", "base_url": self.double.url(), "api_key": self.key,
            "shop_id": "shop-1", "source_id": "odoo-test", "source_name": "Odoo",
            "pos_config_ids": [(6, 0, self.pos_config.ids)], "timeout": 2,
        })  # fmt: skip

    # -- helpers -------------------------------------------------------------------------------
    def commit_changes(self):
        """Run the outbox's precommit (what a commit does) without committing the test."""
        self.env.cr.flush()

    def dispatch(self):
        """Commit-time capture, then dispatcher batches until nothing is due."""
        self.commit_changes()
        attempted = 0
        while True:
            self.env.invalidate_all()
            done = self.env["api.sync.dispatcher"]._dispatch_batch()
            self.env.flush_all()
            attempted += done
            if not done:
                break
        self.env.invalidate_all()
        return attempted

    def deliveries(self, **domain):
        self.env.invalidate_all()
        conditions = [("sink_model", "=", self.backend._name), ("sink_id", "=", self.backend.id)]
        conditions += [(name, "=", value) for name, value in domain.items()]
        return self.Delivery.search(conditions, order="id")

    def make_due(self, deliveries):
        deliveries.write(
            {"next_attempt_at": fields.Datetime.subtract(fields.Datetime.now(), seconds=1)}
        )

    def bound(self, record):
        binding = self.Binding._of(self.backend, record._name, [record.id]).get(record.id)
        return binding.external_id if binding else None
