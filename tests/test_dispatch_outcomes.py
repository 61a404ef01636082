"""The engine's batches (issue #8): a claimed batch prepared sink by sink, and its outcomes
written together, each under its claim, with the health of each sink in completion order.

No HTTP here: the outcomes are given (``Sent``), as the sender threads hand them back.
"""

import uuid

from odoo import fields
from odoo.tests import TransactionCase, new_test_user, tagged

from ..models.api_sync_delivery import Sent
from ..tools import delivery as transport


@tagged("post_install", "-at_install")
class TestDispatchOutcomes(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        ICP = cls.env["ir.config_parameter"].sudo()
        ICP.set_param("api_sync.webhook_allow_http", "True")
        ICP.set_param("api_sync.webhook_allow_private_networks", "True")
        ICP.set_param("api_sync.sink_concurrency", 10)  # the whole batch claimed at once
        cls.owner = new_test_user(
            cls.env, login="batch_owner", groups="base.group_user,base.group_partner_manager"
        )
        cls.Delivery = cls.env["api.sync.delivery"]

    def webhook(self, **values):
        return self.env["api.sync.webhook"].create({
            "url": "http://127.0.0.1:9/never-contacted", "model_name": "res.partner",
            "events": ["record.created"], "field_names": [], "user_id": self.owner.id,
            "secret": "whsec_" + "A" * 32, **values,
        })  # fmt: skip

    def queue(self, webhooks, count):
        """``count`` partners created and committed (precommit): their deliveries, by id."""
        partners = self.env["res.partner"].create([{"name": f"Batch {n}"} for n in range(count)])
        self.env.cr.flush()
        self.env.invalidate_all()
        return self.Delivery.search(
            [("sink_model", "=", "api.sync.webhook"), ("sink_id", "in", webhooks.ids)],
            order="id",
        ), partners

    def claim(self, limit=50):
        token = uuid.uuid4().hex
        lease = fields.Datetime.add(fields.Datetime.now(), seconds=60)
        return self.Delivery.browse(self.Delivery._claim(limit, lease, token)), token

    def test_prepare_isolates_a_failing_sink(self):
        """A sink whose batch preparation fails is sent one by one (no request prepared); the
        other sink of the same batch gets its signed requests, the records read once, as the
        owner, and kept on the deliveries for the retries."""
        broken = self.webhook()
        # a broken authentication config: building the headers raises (KeyError)
        self.env.cr.execute(
            "UPDATE api_sync_webhook SET auth_type = 'header', auth_config = '{}' WHERE id = %s",
            [broken.id],
        )
        healthy = self.webhook(auth_type="bearer", auth_config={"token": "t0k"})
        deliveries, partners = self.queue(broken | healthy, 3)
        claimed, _token = self.claim()
        self.assertEqual(claimed, deliveries)
        prepared = claimed._prepare()
        by_sink = {
            sink_id: [prepared[d.id] for d in claimed if d.sink_id == sink_id]
            for sink_id in (broken.id, healthy.id)
        }
        self.assertEqual(by_sink[broken.id], [None, None, None], "sent through _sink_send")
        requests = by_sink[healthy.id]
        self.assertTrue(all(requests))
        self.env.invalidate_all()
        for request, delivery in zip(
            requests, claimed.filtered(lambda d: d.sink_id == healthy.id), strict=True
        ):
            self.assertEqual(request.url, healthy.url)
            self.assertEqual(request.headers["Authorization"], "Bearer t0k")
            self.assertEqual(request.headers["webhook-id"], delivery.payload["id"])
            self.assertTrue(request.headers["webhook-signature"].startswith("v1,"))
            partner = partners.browse(delivery.event_id.res_id)
            self.assertEqual(delivery.payload["data"]["name"], partner.name, "kept for retries")
            self.assertIn(f'"name":"{partner.name}"'.encode(), request.body)

    def test_outcomes_of_a_batch(self):
        """Each outcome is written under its claim (a lost claim writes nothing); the sink's
        health follows the order the attempts completed in."""
        webhook = self.webhook()
        self.queue(webhook, 5)
        claimed, token = self.claim()
        done, server_error, bug, lost, late_success = claimed
        now = fields.Datetime.now()
        http_500 = transport.RetryableError("HTTP 500", status=500)
        recorded = self.Delivery._record_outcomes([
            (done.id, token, Sent((200, "ok"), 12.5, now)),
            (server_error.id, token, Sent(http_500, 3.0, now)),
            (bug.id, token, Sent(KeyError("name"), 1.0, now)),
            (lost.id, "another-claim", Sent((200, "ok"), 1.0, now)),
        ])  # fmt: skip
        self.assertEqual(recorded, 3)
        bug_error = "KeyError: 'name'"
        self.env.invalidate_all()
        self.assertRecordValues(
            done | server_error | bug | lost,
            [
                {"state": "done", "attempts": 1, "last_status": 200, "last_error": False},
                {"state": "retry", "attempts": 1, "last_status": 500, "last_error": "HTTP 500"},
                {"state": "retry", "attempts": 1, "last_status": 0, "last_error": bug_error},
                {"state": "sending", "attempts": 0, "last_status": 0, "last_error": False},
            ],
        )  # fmt: skip
        self.assertEqual(done.duration_ms, 12.5)
        self.assertGreater(server_error.next_attempt_at, now)
        self.assertEqual(done.delivered_at, now)
        health = self.env["api.sync.sink.health"].search(
            [("sink_model", "=", webhook._name), ("sink_id", "=", webhook.id)]
        )
        # a success, then a failure (a sink's bug is not the receiver's: not counted)
        self.assertEqual(health.consecutive_failures, 1)
        self.Delivery._record_outcomes([(late_success.id, token, Sent((204, ""), 1.0, now))])
        health.invalidate_recordset()
        self.assertEqual(health.consecutive_failures, 0, "a later success closes the count")
        self.assertFalse(health.failing_since)
