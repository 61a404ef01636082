"""``Idempotency-Key`` on POST (create, batch): replay the stored answer, refuse another body."""

from odoo.tests import tagged

from .data_common import ApiSyncDataCase


@tagged("post_install", "-at_install")
class TestIdempotency(ApiSyncDataCase):
    def post(self, path, body, key, token=None):
        return self.api("POST", path, json=body, headers={"Idempotency-Key": key}, token=token)

    def named(self, name):
        return self.Partner.search([("name", "=", name)])

    def test_create_replayed(self):
        body = {"data": {"name": "Idem Once", "email": "once@example.com"}}
        first = self.post("/res.partner", body, "key-create-1")
        first_body = self.assertApiOk(first, 201)
        self.assertNotIn("Idempotent-Replayed", first.headers)
        second = self.post("/res.partner", body, "key-create-1")
        second_body = second.json()
        self.assertEqual(second.status_code, 201)
        self.assertEqual(second.headers["Idempotent-Replayed"], "true")
        self.assertEqual(second_body, first_body)  # the stored response, its request_id included
        self.assertEqual(len(self.named("Idem Once")), 1)
        self.assertEqual(self.named("Idem Once").id, first_body["id"])

    def test_key_expires_after_24_hours(self):
        body = {"data": {"name": "Idem Expired"}}
        self.assertApiOk(self.post("/res.partner", body, "key-old"), 201)
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE api_sync_idempotency_key"
            " SET create_date = now() at time zone 'UTC' - interval '25 hours'"
            " WHERE key = 'key-old'"
        )
        self.env.invalidate_all()
        again = self.post("/res.partner", body, "key-old")
        self.assertApiOk(again, 201)
        self.assertNotIn("Idempotent-Replayed", again.headers)
        self.assertEqual(len(self.named("Idem Expired")), 2)

    def test_same_key_other_body(self):
        self.assertApiOk(self.post("/res.partner", {"data": {"name": "Idem A"}}, "key-2"), 201)
        error = self.assertApiError(
            self.post("/res.partner", {"data": {"name": "Idem B"}}, "key-2"),
            409,
            "DUPLICATE_RECORD",
        )
        self.assertEqual(error["details"]["idempotency_key"], "key-2")
        self.assertFalse(self.named("Idem B"))
        self.assertEqual(len(self.named("Idem A")), 1)

    def test_other_key_writes_again(self):
        body = {"data": {"name": "Idem Twice"}}
        self.assertApiOk(self.post("/res.partner", body, "key-3a"), 201)
        self.assertApiOk(self.post("/res.partner", body, "key-3b"), 201)
        self.assertApiOk(self.api("POST", "/res.partner", json=body), 201)  # no key: no replay
        self.assertEqual(len(self.named("Idem Twice")), 3)

    def test_batch_replayed(self):
        body = {
            "operations": [
                {"method": "create", "data": {"name": "Idem Batch 1"}},
                {"method": "create", "data": {"name": "Idem Batch 2"}},
            ]
        }
        first = self.assertApiOk(self.post("/res.partner/batch", body, "key-batch"))
        second = self.post("/res.partner/batch", body, "key-batch")
        self.assertEqual(second.status_code, 200)
        self.assertEqual(second.headers["Idempotent-Replayed"], "true")
        self.assertEqual(second.json(), first)
        self.assertEqual(len(self.named("Idem Batch 1")), 1)
        self.assertEqual(len(self.named("Idem Batch 2")), 1)
        body["operations"].pop()
        self.assertApiError(
            self.post("/res.partner/batch", body, "key-batch"), 409, "DUPLICATE_RECORD"
        )

    def test_failed_call_is_not_stored(self):
        """An error answer is not kept: the client may fix its body and retry with the key."""
        self.assertApiError(
            self.post("/res.partner", {"data": {"nope": 1}}, "key-4"), 400, "VALIDATION_ERROR"
        )
        result = self.assertApiOk(
            self.post("/res.partner", {"data": {"name": "Idem Fixed"}}, "key-4"), 201
        )
        self.assertEqual(self.named("Idem Fixed").id, result["id"])

    def test_keys_are_per_caller(self):
        body = {"data": {"name": "Idem Shared"}}
        self.assertApiOk(self.post("/res.partner", body, "key-5"), 201)
        other = self.post("/res.partner", body, "key-5", token=self.client_token())
        self.assertApiOk(other, 201)
        self.assertNotIn("Idempotent-Replayed", other.headers)
        self.assertEqual(len(self.named("Idem Shared")), 2)

    def test_only_post_is_idempotent(self):
        partner = self.Partner.create({"name": "Idem Put"})
        for phone in ("+1", "+2"):
            response = self.api(
                "PUT",
                f"/res.partner/{partner.id}",
                json={"data": {"phone": phone}},
                headers={"Idempotency-Key": "key-6"},
            )
            self.assertApiOk(response)
            self.assertNotIn("Idempotent-Replayed", response.headers)
        self.assertEqual(partner.phone, "+2")
