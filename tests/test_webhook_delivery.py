"""Webhook delivery over real HTTP (issue #4, "Delivery"), to a Standard Webhooks consumer on
127.0.0.1 that checks every signature.

Changes are made through the API (the test server shares the test transaction); the test then
runs the dispatcher itself (``_dispatch_batch``), as the cron would after the commit.
"""

import email.utils
import itertools
import time
from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from ..tools import delivery as transport
from .receiver import Answer, SilentListener
from .webhook_common import ISO_Z, WebhookHttpCase

PAYLOAD_KEYS = {
    "id",
    "event",
    "timestamp",
    "model",
    "record_id",
    "data",
    "changed_fields",
    "metadata",
}


@tagged("post_install", "-at_install")
class TestWebhookDelivery(WebhookHttpCase):
    # -- payload and headers -----------------------------------------------------------------------
    def test_payload_and_headers(self):
        webhook, _result = self.register()
        partner = self.create_partner(city="Brussels")
        self.update_partner(partner, email="doe@example.com", phone="+3222222222")
        self.assertEqual(self.dispatch(), 2)

        [created, updated] = self.receiver.received
        for item in (created, updated):
            payload = item["payload"]
            self.assertEqual(set(payload), PAYLOAD_KEYS)
            self.assertEqual(item["id"], payload["id"])
            self.assertRegex(payload["id"], r"^evt_\d+$")
            self.assertRegex(payload["timestamp"], ISO_Z)
            self.assertEqual((payload["model"], payload["record_id"]), ("res.partner", partner.id))
            self.assertEqual(payload["metadata"], {"user_id": self.api_user.id,
                                                   "company_id": self.api_user.company_id.id,
                                                   "database": self.env.cr.dbname})  # fmt: skip
            headers = item["headers"]
            self.assertEqual(headers["Authorization"], "Bearer external-api-token")
            self.assertEqual(headers["Content-Type"], "application/json")
            self.assertTrue(headers["webhook-signature"].startswith("v1,"))
            self.assertLessEqual(abs(int(headers["webhook-timestamp"]) - time.time()), 300)
        self.assertEqual(created["payload"]["event"], "create")
        self.assertEqual(created["payload"]["data"],
                         {"name": "John Doe", "email": "john@example.com", "phone": "+1234567890"},
                         "subscribed fields only")  # fmt: skip
        self.assertEqual(created["payload"]["changed_fields"], [])
        self.assertEqual(updated["payload"]["event"], "update")
        self.assertEqual(updated["payload"]["changed_fields"], ["email", "phone"])
        self.assertEqual(
            updated["payload"]["data"],
            {"name": "John Doe", "email": "doe@example.com", "phone": "+3222222222"},
        )
        self.assertNotEqual(created["id"], updated["id"])
        self.assertTrue(all(r["problem"] is None for r in self.receiver.requests))

        deliveries = self.deliveries_of(webhook)
        self.assertEqual(deliveries.mapped("state"), ["done", "done"])
        self.assertEqual(deliveries.mapped("last_status"), [200, 200])
        self.assertEqual(deliveries.mapped("attempts"), [1, 1])
        self.env.invalidate_all()
        self.assertTrue(webhook.last_success_at)
        self.assertEqual(self.dispatch(), 0, "nothing left to send")
        self.assertEqual(len(self.receiver.requests), 2)

    def test_delete_is_delivered_with_last_values(self):
        self.register()
        partner = self.create_partner()
        partner_id = partner.id
        response = self.api("DELETE", f"/res.partner/{partner_id}")
        self.assertEqual(response.status_code, 200, response.text)
        self.dispatch()
        events = [(p["event"], p["record_id"]) for p in self.receiver.payloads()]
        self.assertEqual(events, [("create", partner_id), ("delete", partner_id)])
        self.assertEqual(
            self.receiver.payloads()[1]["data"],
            {"name": "John Doe", "email": "john@example.com", "phone": "+1234567890"},
        )

    def test_forged_signature_is_refused_by_the_receiver(self):
        """The receiver really checks: with another secret the delivery fails (401), retried."""
        webhook, _result = self.register()
        self.receiver.secret = "whsec_" + "QUJD" * 8
        self.create_partner()
        self.dispatch()
        self.assertEqual(self.receiver.received, [])
        self.assertEqual([r["problem"] for r in self.receiver.requests], ["bad signature"])
        delivery = self.deliveries_of(webhook)
        self.assertEqual((delivery.state, delivery.last_status), ("retry", 401))

    def test_conditions_filter_deliveries(self):
        self.register()
        self.create_partner(name="Prospect", customer_rank=0)
        customer = self.create_partner(name="Customer")
        self.dispatch()
        self.assertEqual([p["record_id"] for p in self.receiver.payloads()], [customer.id])

    # -- nothing for rolled-back work --------------------------------------------------------------
    def test_failed_transactional_batch_delivers_nothing(self):
        webhook, _result = self.register(self.spec_body(
            events=["record.created", "record.updated", "batch.completed"]))  # fmt: skip
        existing = self.env["res.partner"].create({"name": "Existing", "customer_rank": 1})
        self.env.cr.flush()
        self.Delivery.search([]).unlink()
        body = {
            "operations": [
                {"method": "create", "data": {"name": "Batch One", "customer_rank": 1}},
                {"method": "update", "id": existing.id, "data": {"email": "b@example.com"}},
                {"method": "update", "id": existing.id, "data": {"no_such_field": 1}},
            ],
            "options": {"transaction": True},
        }
        response = self.api("POST", "/res.partner/batch", json=body)
        self.assertEqual(response.status_code, 400, response.text)
        self.assertFalse(self.env["res.partner"].search([("name", "=", "Batch One")]))
        self.assertFalse(self.deliveries_of(webhook))
        self.assertFalse(
            self.Event.search([("model", "=", "res.partner")]).filtered(
                lambda e: e.res_id != existing.id
            )
        )
        self.assertEqual(self.dispatch(), 0)
        self.assertEqual(self.receiver.requests, [])

    def test_batch_completed(self):
        self.register(self.spec_body(events=["record.created", "batch.completed"]))
        body = {
            "operations": [
                {"method": "create", "data": {"name": "Batch One", "customer_rank": 1}},
                {"method": "create", "data": {"name": "Batch Two", "customer_rank": 1}},
            ],
            "options": {"transaction": True},
        }
        response = self.api("POST", "/res.partner/batch", json=body)
        self.assertEqual(response.status_code, 200, response.text)
        request_id = response.json()["request_id"]
        ids = [r["id"] for r in response.json()["results"]]
        self.dispatch()
        payloads = self.receiver.payloads()
        self.assertEqual(sorted(p["record_id"] for p in payloads if p["event"] == "record.created"),
                         sorted(ids))  # fmt: skip
        [batch] = [p for p in payloads if p["event"] == "batch.completed"]
        self.assertEqual(batch["model"], "res.partner")
        self.assertEqual(
            batch["data"], {"total": 2, "succeeded": 2, "failed": 0, "request_id": request_id}
        )

    # -- retries and order -------------------------------------------------------------------------
    def test_receiver_down_then_up_keeps_order(self):
        """503 twice then 200: the create is retried and delivered once; the update waits
        behind it and follows in order."""
        webhook, _result = self.register()
        self.receiver.answer(503, 503)
        partner = self.create_partner()
        self.update_partner(partner, email="second@example.com")
        create, update = self.deliveries_of(webhook)

        self.assertEqual(self.dispatch(), 1, "the update waits behind the failing create")
        self.env.invalidate_all()
        self.assertEqual((create.state, create.attempts, create.last_status), ("retry", 1, 503))
        self.assertEqual((update.state, update.attempts), ("pending", 0))
        self.assertGreater(create.next_attempt_at, fields.Datetime.now())
        self.assertEqual(self.dispatch(), 0, "not due yet")

        self.make_due(create)
        self.assertEqual(self.dispatch(), 1)
        self.assertEqual((create.state, create.attempts), ("retry", 2))
        self.assertEqual(update.state, "pending")

        self.make_due(create)
        self.assertEqual(self.dispatch(), 2, "the create, then the update behind it")
        self.assertEqual((create.state, create.attempts, create.last_status), ("done", 3, 200))
        self.assertEqual((update.state, update.attempts), ("done", 1))
        self.assertEqual([r["status"] for r in self.receiver.requests], [503, 503, 200, 200])
        self.assertEqual(
            self.receiver.ids(),
            [create.payload["id"], update.payload["id"]],
            "each delivered exactly once, in commit order",
        )
        self.assertEqual(
            len({r["headers"]["webhook-id"] for r in self.receiver.requests[:3]}),
            1,
            "the same webhook-id on every attempt, for deduplication",
        )

    def test_other_records_are_not_blocked(self):
        """Order is kept per record: another record's delivery does not wait."""
        webhook, _result = self.register()
        self.receiver.answer(503)
        first = self.create_partner(name="First")
        second = self.create_partner(name="Second")
        self.assertEqual(self.dispatch(), 2)
        self.assertEqual([p["record_id"] for p in self.receiver.payloads()], [second.id])
        self.assertEqual(self.deliveries_of(webhook).mapped("state"), ["retry", "done"])
        self.assertTrue(first)

    def test_retry_after_is_honoured(self):
        webhook, _result = self.register()
        self.receiver.answer(Answer(429, headers={"Retry-After": "120"}))
        self.create_partner()
        before = fields.Datetime.now()
        self.dispatch()
        delivery = self.deliveries_of(webhook)
        self.assertEqual((delivery.state, delivery.last_status), ("retry", 429))
        wait = (delivery.next_attempt_at - before).total_seconds()
        self.assertGreaterEqual(wait, 120)
        self.assertLessEqual(wait, 150)

    def test_retry_after_http_date(self):
        webhook, _result = self.register()
        when = time.time() + 600
        retry_after = email.utils.formatdate(when, usegmt=True)
        self.receiver.answer(Answer(503, headers={"Retry-After": retry_after}))
        self.create_partner()
        self.dispatch()
        delivery = self.deliveries_of(webhook)
        self.assertEqual((delivery.state, delivery.last_status), ("retry", 503))
        wait = (delivery.next_attempt_at - fields.Datetime.now()).total_seconds()
        self.assertGreaterEqual(wait, 590)
        self.assertLessEqual(wait, 630)

    def test_backoff_grows_and_spans_three_days(self):
        delays = [transport.backoff(attempt) for attempt in range(1, 23)]
        self.assertTrue(
            all(later >= earlier * 0.6 for earlier, later in itertools.pairwise(delays))
        )
        self.assertLessEqual(max(delays), 6 * 3600 * 1.2)
        for attempt, delay in enumerate(delays, 1):
            nominal = min(30 * 2 ** (attempt - 1), 6 * 3600)
            self.assertTrue(nominal * 0.8 <= delay <= nominal * 1.2, (attempt, delay))
        # with the default number of attempts, the retries span at least 3 days (issue #4),
        # even when the jitter always draws its lowest value
        attempts = self.Delivery._max_attempts()
        lowest = sum(min(30 * 2 ** (n - 1), 6 * 3600) * 0.8 for n in range(1, attempts))
        self.assertGreaterEqual(lowest, 3 * 86400, attempts)

    def test_gone_disables_the_subscription(self):
        webhook, _result = self.register()
        self.receiver.answer(410)
        partner = self.create_partner()
        self.update_partner(partner, email="later@example.com")
        self.dispatch()
        self.env.invalidate_all()
        self.assertEqual(webhook.state, "disabled")
        self.assertIn("410", webhook.disabled_reason)
        first, second = self.deliveries_of(webhook)
        self.assertEqual((first.state, first.last_status), ("dead", 410))
        self.assertEqual(second.state, "on_hold")
        self.assertNotIn("res.partner", self.Webhook._tracked_models())
        self.create_partner(name="After")
        self.assertEqual(
            len(self.deliveries_of(webhook)), 2, "a disabled subscription gets nothing"
        )
        self.assertEqual(self.dispatch(), 0)
        # replaying the dead one while the subscription is disabled holds it, sends nothing
        first.action_redeliver()
        self.dispatch()
        self.assertEqual(first.state, "on_hold")
        self.assertEqual(len(self.receiver.requests), 1)
        response = self.api("GET", f"/webhooks/{webhook.identifier}")
        self.assertEqual(response.json()["data"]["status"], "disabled")
        self.assertIn("410", response.json()["data"]["disabled_reason"])

    # -- dead letters and replay -------------------------------------------------------------------
    def test_dead_letter_and_redeliver(self):
        self.env["ir.config_parameter"].sudo().set_param("api_sync.delivery_max_attempts", 2)
        webhook, result = self.register()
        self.receiver.answer(500, 500)
        self.create_partner()
        delivery = self.deliveries_of(webhook)
        self.dispatch()
        self.assertEqual(delivery.state, "retry")
        self.make_due(delivery)
        self.dispatch()
        self.assertEqual(
            (delivery.state, delivery.attempts, delivery.last_status), ("dead", 2, 500)
        )
        self.make_due(delivery)
        self.assertEqual(self.dispatch(), 0, "dead is not retried")
        self.env.invalidate_all()
        self.assertEqual(webhook.dead_count, 1)

        response = self.api("GET", f"/webhooks/{result['webhook_id']}/deliveries",
                            params={"status": "dead"})  # fmt: skip
        self.assertEqual(response.status_code, 200, response.text)
        [row] = response.json()["data"]
        self.assertEqual(row["id"], delivery.id)
        self.assertEqual(
            (row["status"], row["attempts"], row["last_status_code"]), ("dead", 2, 500)
        )
        self.assertEqual(
            (row["event"], row["event_id"]), ("record.created", delivery.payload["id"])
        )
        self.assertEqual(row["last_error"], "HTTP 500")
        self.assertIsNone(row["next_attempt_at"])
        self.assertEqual(response.json()["pagination"]["total"], 1)

        response = self.api("POST", f"/webhooks/deliveries/{delivery.id}/redeliver")
        self.assertEqual(response.status_code, 202, response.text)
        self.assertEqual(response.json()["data"]["status"], "pending")
        self.assertEqual(self.dispatch(), 1)
        self.assertEqual((delivery.state, delivery.attempts), ("done", 1))
        self.assertEqual(self.receiver.ids(), [delivery.payload["id"]])
        self.assertApiError(
            self.api("POST", "/webhooks/deliveries/999999999/redeliver"), 404, "NOT_FOUND"
        )

    def test_bulk_replay(self):
        """Dead deliveries can be replayed in bulk (the dead-letter list's action)."""
        self.env["ir.config_parameter"].sudo().set_param("api_sync.delivery_max_attempts", 1)
        webhook, _result = self.register()
        self.receiver.answer(500, 500, 500)
        for index in range(3):
            self.create_partner(name=f"P{index}")
        self.dispatch()
        dead = self.deliveries_of(webhook)
        self.assertEqual(dead.mapped("state"), ["dead"] * 3)
        dead.action_redeliver()
        self.assertEqual(self.dispatch(), 3)
        self.assertEqual(dead.mapped("state"), ["done"] * 3)
        self.assertEqual(sorted(self.receiver.ids()), sorted(d.payload["id"] for d in dead))

    # -- ping --------------------------------------------------------------------------------------
    def test_test_endpoint_sends_a_ping(self):
        webhook, result = self.register()
        response = self.api("POST", f"/webhooks/{result['webhook_id']}/test")
        self.assertEqual(response.status_code, 202, response.text)
        self.assertEqual(self.dispatch(), 1)
        [payload] = self.receiver.payloads()
        self.assertEqual(payload["event"], "ping")
        self.assertEqual(payload["data"], {"message": "ping"})
        self.assertEqual(payload["model"], "res.partner")
        self.assertEqual(self.deliveries_of(webhook).state, "done")

    def test_send_now_reports_the_outcome(self):
        """``_send_now`` sends at once through the dispatcher's attempt and outcome path and
        returns the outcome (the UI's *Send Test*, a connector's "push now")."""
        webhook, _result = self.register()
        ping = self.Event._emit_ping(webhook)
        outcome = ping._send_now()[ping.id]
        self.assertEqual(
            (outcome["state"], outcome["status"], outcome["error"]), ("done", 200, None)
        )
        self.assertGreater(outcome["duration_ms"], 0)
        self.assertEqual([p["event"] for p in self.receiver.payloads()], ["ping"])
        self.receiver.answer(503)
        again = self.Event._emit_ping(webhook)
        outcome = again._send_now()[again.id]
        self.assertEqual(
            (outcome["state"], outcome["status"], outcome["error"]), ("retry", 503, "HTTP 503")
        )
        self.assertEqual((again.attempts, again.claim_token), (1, False))

    # -- misbehaving receivers ---------------------------------------------------------------------
    def test_redirect_is_a_failed_attempt(self):
        webhook, _result = self.register()
        self.receiver.answer(Answer(302, headers={"Location": self.receiver.url("/elsewhere")}))
        self.create_partner()
        self.dispatch()
        delivery = self.deliveries_of(webhook)
        self.assertEqual((delivery.state, delivery.last_status), ("retry", 302))
        self.assertIn("redirect", delivery.last_error)
        self.assertEqual([r["path"] for r in self.receiver.requests], ["/hook"], "not followed")

    def test_huge_response_is_capped(self):
        """A 50 MB answer: the dispatcher reads at most its cap, records a failed attempt with
        the reason, and goes on."""
        webhook, _result = self.register()
        size = 50 * 1024 * 1024
        self.receiver.answer(Answer(200, stream=size), Answer(500, stream=size))
        first = self.create_partner(name="First")
        self.create_partner(name="Second")
        started = time.monotonic()
        self.assertEqual(self.dispatch(), 2)
        self.assertLess(time.monotonic() - started, 60, "never hangs")
        one, two = self.deliveries_of(webhook)
        self.assertEqual(one.event_id.res_id, first.id)
        self.assertEqual((one.state, one.last_status), ("retry", 200))
        self.assertIn("larger than", one.last_error)
        self.assertEqual((two.state, two.last_status, two.last_error), ("retry", 500, "HTTP 500"))
        for delivery in (one, two):
            self.assertLessEqual(len(delivery.response_excerpt), transport.EXCERPT)
            self.assertTrue(delivery.response_excerpt.startswith("xxx"))
        deadline = time.monotonic() + 10  # let the receiver's threads notice the hang-up
        while time.monotonic() < deadline and not all(
            r.get("client_hung_up") for r in self.receiver.requests
        ):
            time.sleep(0.05)
        self.assertEqual(len(self.receiver.requests), 2)
        for request in self.receiver.requests:
            self.assertLess(request.get("bytes_sent", 0), size, "the dispatcher stopped reading")
            self.assertTrue(request.get("client_hung_up"), request.get("bytes_sent"))

    def test_receiver_that_never_answers(self):
        """A receiver that accepts the connection and never answers: a timeout, recorded."""
        webhook, _result = self.register()
        self.create_partner()
        with SilentListener() as silent:
            webhook.url = silent.url()
            started = time.monotonic()
            self.dispatch()
            elapsed = time.monotonic() - started
        self.assertLess(elapsed, 30, "bounded by the read timeout")
        delivery = self.deliveries_of(webhook)
        self.assertEqual(
            (delivery.state, delivery.attempts, delivery.last_error), ("retry", 1, "timeout")
        )
        self.assertGreater(delivery.next_attempt_at, fields.Datetime.now())

    def test_trickling_response_is_cut_off(self):
        """Headers, then one byte every half second: the dispatcher stops reading within its
        time budget instead of waiting for the whole body."""
        webhook, _result = self.register()
        self.receiver.answer(Answer(200, trickle=0.5, trickle_for=40))
        self.create_partner()
        started = time.monotonic()
        self.dispatch()
        self.assertLess(time.monotonic() - started, 30, "the body read has a time budget")
        delivery = self.deliveries_of(webhook)
        self.assertEqual((delivery.attempts, delivery.last_status), (1, 200))
        [request] = self.receiver.requests
        self.assertLess(request["bytes_sent"], 100)

    def test_receiver_down(self):
        """Nobody listening: a connection error, retried."""
        webhook, _result = self.register()
        self.create_partner()
        with SilentListener() as closed:
            url = closed.url()
        webhook.url = url  # the port is closed again
        self.dispatch()
        delivery = self.deliveries_of(webhook)
        self.assertEqual(delivery.state, "retry")
        self.assertTrue(delivery.last_error.startswith("connection error"), delivery.last_error)

    # -- a subscription that keeps failing ---------------------------------------------------------
    def test_keeps_failing_disables_and_tells_the_owner(self):
        webhook, _result = self.register()
        self.receiver.answer(503, 503)
        partner = self.create_partner()
        self.dispatch()
        self.env.invalidate_all()
        self.assertEqual(webhook.state, "active", "one failure is not enough")
        self.assertTrue(webhook.failing_since)

        webhook.failing_since = fields.Datetime.now() - timedelta(days=4)
        self.update_partner(partner, email="more@example.com")
        delivery, follower = self.deliveries_of(webhook)
        self.make_due(delivery)
        self.dispatch()
        self.env.invalidate_all()
        self.assertEqual(webhook.state, "disabled")
        self.assertIn("3 days", webhook.disabled_reason)
        self.assertEqual(delivery.state, "on_hold", "kept for when the subscription is resumed")
        self.assertEqual(follower.state, "on_hold")
        activity = self.env["mail.activity"].search(
            [("res_model", "=", "api.sync.webhook"), ("res_id", "=", webhook.id)]
        )
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.user_id, self.api_user, "the owner is told")
        self.assertIn(webhook.identifier, activity.summary)

        self.make_due(delivery)
        self.assertEqual(self.dispatch(), 0, "nothing is sent to a disabled subscription")
        self.assertEqual(len(self.receiver.requests), 2)

        # resumed (receiver fixed): what was held is delivered, in order
        response = self.api("PATCH", f"/webhooks/{webhook.identifier}", json={"status": "active"})
        self.assertEqual(response.status_code, 200, response.text)
        self.env.invalidate_all()
        self.assertFalse(webhook.disabled_reason)
        self.assertFalse(webhook.failing_since, "a resumed subscription starts afresh")
        self.assertEqual((delivery.state, follower.state), ("pending", "pending"))
        self.dispatch()
        self.assertEqual(self.receiver.ids(), [delivery.payload["id"], follower.payload["id"]])

    def test_success_resets_failing_since(self):
        webhook, _result = self.register()
        self.receiver.answer(503)
        self.create_partner()
        self.dispatch()
        self.env.invalidate_all()
        self.assertTrue(webhook.failing_since)
        self.make_due(self.deliveries_of(webhook))
        self.dispatch()
        self.env.invalidate_all()
        self.assertFalse(webhook.failing_since)
        self.assertEqual(webhook.state, "active")

    # -- the owner's rights ------------------------------------------------------------------------
    def test_only_readable_records_are_delivered(self):
        """A client's subscription is read as the client's user: what it cannot read is not sent."""
        main = self.env.company
        other = self.env["res.company"].create({"name": "Elsewhere Inc."})
        self.api_user.write({"company_ids": [(4, other.id)]})
        self.register(token=self.client_token())  # owned by client_user (main company only)
        hidden = self.create_partner(name="Elsewhere", company_id=other.id)
        visible = self.create_partner(name="Here", company_id=main.id)
        self.dispatch()
        self.assertEqual([p["record_id"] for p in self.receiver.payloads()], [visible.id])
        self.assertTrue(hidden)
