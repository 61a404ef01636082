"""Webhook subscriptions through the API (issue #4): register, list, change, delete, ownership.

sync-api-reference.md, "Webhook Registration" and "Event Subscription": the bodies are sent as
written, with the URL of a receiver on 127.0.0.1.
"""

import base64

from odoo.tests import tagged

from .webhook_common import ISO_Z, WebhookHttpCase

API_KEYS = {"success", "webhook_id", "status", "secret", "request_id"}
WEBHOOK_KEYS = {"webhook_id", "status", "url", "model", "events", "fields", "conditions",
                "authentication", "disabled_reason", "created_at"}  # fmt: skip


@tagged("post_install", "-at_install")
class TestWebhookRegistration(WebhookHttpCase):
    # -- POST /webhooks ----------------------------------------------------------------------------
    def test_register_spec_example(self):
        body = self.spec_body()
        response = self.api("POST", "/webhooks", json=body)
        self.assertEqual(response.status_code, 201, response.text)
        result = response.json()
        self.assertEqual(set(result), API_KEYS)
        self.assertIs(result["success"], True)
        self.assertEqual(result["status"], "active")
        self.assertRegex(result["webhook_id"], r"^wh_[A-Za-z0-9_-]+$")
        self.assertTrue(result["secret"].startswith("whsec_"))
        self.assertGreaterEqual(len(base64.b64decode(result["secret"].removeprefix("whsec_"))), 24)

        webhook = self.Webhook.search([("identifier", "=", result["webhook_id"])])
        self.assertEqual(webhook.state, "active")
        self.assertEqual(webhook.user_id, self.api_user)
        self.assertFalse(webhook.client_id)
        self.assertEqual(webhook.url, body["url"])
        self.assertEqual(webhook.model_name, "res.partner")
        self.assertEqual(webhook.events, ["create", "update", "delete"])
        self.assertEqual(webhook.field_names, ["name", "email", "phone"])
        self.assertEqual(webhook.conditions, [["customer_rank", ">", 0]])
        self.assertEqual(webhook.auth_type, "bearer")
        self.assertEqual(webhook.auth_config, {"token": "external-api-token"})
        self.assertEqual(webhook.secret, result["secret"])
        self.assertIn("res.partner", self.Webhook._tracked_models())

    def test_secret_is_shown_once(self):
        """The secret and the receiver's token are never read back through the API."""
        _webhook, result = self.register()
        for path in ("/webhooks", f"/webhooks/{result['webhook_id']}"):
            response = self.api("GET", path)
            self.assertEqual(response.status_code, 200, response.text)
            self.assertNotIn(result["secret"], response.text)
            self.assertNotIn("external-api-token", response.text)
        # every registration gets its own secret
        _other, second = self.register()
        self.assertNotEqual(second["secret"], result["secret"])
        self.assertNotEqual(second["webhook_id"], result["webhook_id"])

    def test_authentication_kinds(self):
        for auth, config in (
            (
                {"type": "basic", "username": "u", "password": "p"},
                {"username": "u", "password": "p"},
            ),
            (
                {"type": "header", "name": "X-Api-Key", "value": "k"},
                {"name": "X-Api-Key", "value": "k"},
            ),
            (None, {}),
        ):
            with self.subTest(auth=auth):
                body = self.spec_body(authentication=auth)
                webhook, _result = self.register(body)
                self.assertEqual(webhook.auth_type, auth["type"] if auth else "none")
                self.assertEqual(webhook.auth_config or {}, config)

    # -- GET ---------------------------------------------------------------------------------------
    def test_list_and_show(self):
        _first, one = self.register()
        _second, two = self.register(self.spec_body(events=["record.created"], fields=["name"]))
        response = self.api("GET", "/webhooks")
        self.assertEqual(response.status_code, 200, response.text)
        listed = {item["webhook_id"]: item for item in response.json()["data"]}
        self.assertEqual(set(listed), {one["webhook_id"], two["webhook_id"]})
        for item in listed.values():
            self.assertEqual(set(item), WEBHOOK_KEYS)

        response = self.api("GET", f"/webhooks/{one['webhook_id']}")
        self.assertEqual(response.status_code, 200, response.text)
        data = response.json()["data"]
        self.assertEqual(data, {
            "webhook_id": one["webhook_id"],
            "status": "active",
            "url": self.receiver.url(),
            "model": "res.partner",
            "events": ["create", "update", "delete"],
            "fields": ["name", "email", "phone"],
            "conditions": [["customer_rank", ">", 0]],
            "authentication": {"type": "bearer"},
            "disabled_reason": None,
            "created_at": data["created_at"],
        })  # fmt: skip
        self.assertRegex(data["created_at"], ISO_Z)
        self.assertEqual(listed[two["webhook_id"]]["events"], ["record.created"])

    def test_show_unknown(self):
        self.assertApiError(self.api("GET", "/webhooks/wh_nope"), 404, "NOT_FOUND")

    # -- PATCH -------------------------------------------------------------------------------------
    def test_pause_resume_and_change(self):
        webhook, result = self.register()
        path = f"/webhooks/{result['webhook_id']}"

        response = self.api("PATCH", path, json={"status": "paused"})
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json()["data"]["status"], "paused")
        self.env.invalidate_all()
        self.assertEqual(webhook.state, "paused")
        self.assertNotIn("res.partner", self.Webhook._tracked_models())

        response = self.api("PATCH", path, json={"status": "active"})
        self.assertEqual(response.json()["data"]["status"], "active")
        self.assertIn("res.partner", self.Webhook._tracked_models())

        new_url = self.receiver.url("/other")
        response = self.api("PATCH", path, json={"url": new_url, "fields": ["name"],
                                                 "events": ["record.deleted"]})  # fmt: skip
        self.assertEqual(response.status_code, 200, response.text)
        data = response.json()["data"]
        self.assertEqual(
            (data["url"], data["fields"], data["events"]), (new_url, ["name"], ["record.deleted"])
        )
        self.assertEqual(data["conditions"], [["customer_rank", ">", 0]], "untouched")

        # a bad change is refused and changes nothing
        self.assertApiError(
            self.api("PATCH", path, json={"url": "ftp://example.com/x"}),
            400,
            "VALIDATION_ERROR",
            field="url",
        )
        self.assertApiError(
            self.api("PATCH", path, json={"status": "disabled"}),
            400,
            "VALIDATION_ERROR",
            field="status",
        )
        self.assertApiError(self.api("PATCH", path, json={}), 400, "VALIDATION_ERROR")
        self.env.invalidate_all()
        self.assertEqual((webhook.url, webhook.state), (new_url, "active"))

    def test_pause_holds_queued_deliveries(self):
        """Pausing holds what is queued; resuming queues it again, due now."""
        webhook, result = self.register()
        self.create_partner()
        delivery = self.deliveries_of(webhook)
        self.assertEqual(delivery.mapped("state"), ["pending"])
        self.api("PATCH", f"/webhooks/{result['webhook_id']}", json={"status": "paused"})
        self.env.invalidate_all()
        self.assertEqual(delivery.state, "on_hold")
        self.assertEqual(self.dispatch(), 0, "nothing is sent while paused")
        self.assertEqual(self.receiver.requests, [])
        self.api("PATCH", f"/webhooks/{result['webhook_id']}", json={"status": "active"})
        self.env.invalidate_all()
        self.assertEqual(delivery.state, "pending")
        self.dispatch()
        self.assertEqual(delivery.state, "done")
        self.assertEqual(self.receiver.ids(), [delivery.payload["id"]])

    # -- DELETE ------------------------------------------------------------------------------------
    def test_delete(self):
        webhook, result = self.register()
        path = f"/webhooks/{result['webhook_id']}"
        response = self.api("DELETE", path)
        self.assertEqual(response.status_code, 200, response.text)
        body = response.json()
        self.assertIs(body["success"], True)
        self.assertEqual(body["webhook_id"], result["webhook_id"])
        self.assertFalse(webhook.exists())
        self.assertNotIn("res.partner", self.Webhook._tracked_models())
        self.assertApiError(self.api("GET", path), 404, "NOT_FOUND")
        self.assertApiError(self.api("DELETE", path), 404, "NOT_FOUND")

    # -- POST /events/subscribe --------------------------------------------------------------------
    def test_events_subscribe_spec_example(self):
        body = {
            "events": ["record.created", "record.updated"],
            "model": "res.partner",
            "callback_url": self.receiver.url(),
            "filters": {"customer_rank": [">", 0]},
        }
        response = self.api("POST", "/events/subscribe", json=body)
        self.assertEqual(response.status_code, 201, response.text)
        result = response.json()
        self.assertEqual(set(result), API_KEYS)
        self.assertEqual(result["status"], "active")
        webhook = self.Webhook.search([("identifier", "=", result["webhook_id"])])
        self.assertEqual(webhook.url, self.receiver.url())
        self.assertEqual(webhook.events, ["record.created", "record.updated"])
        self.assertEqual(webhook.conditions, [["customer_rank", ">", 0]])
        self.assertEqual(webhook.auth_type, "none")
        # the subscription works: a customer created through the API is delivered, signed
        self.receiver.secret = result["secret"]
        partner = self.create_partner()
        self.create_partner(name="Not a customer", customer_rank=0)
        self.dispatch()
        [payload] = self.receiver.payloads()
        self.assertEqual((payload["event"], payload["record_id"]), ("record.created", partner.id))
        # no "fields": the default set, minus what the owner may not read
        self.assertEqual(payload["data"]["name"], "John Doe")
        self.assertEqual(payload["data"]["customer_rank"], 1)
        self.assertNotIn("signup_type", payload["data"], "restricted to Access Rights managers")

    def test_events_subscribe_plain_filter(self):
        """A filter that is not an [operator, value] pair means equality."""
        response = self.api("POST", "/events/subscribe", json={
            "events": ["record.updated"], "model": "res.partner",
            "callback_url": self.receiver.url(), "filters": {"is_company": True},
        })  # fmt: skip
        self.assertEqual(response.status_code, 201, response.text)
        webhook = self.Webhook.search([("identifier", "=", response.json()["webhook_id"])])
        self.assertEqual(webhook.conditions, [["is_company", "=", True]])

    # -- ownership ---------------------------------------------------------------------------------
    def test_client_sees_only_its_own(self):
        client_token = self.client_token()
        theirs, their_result = self.register(token=client_token)
        self.assertEqual(theirs.client_id, self.client)
        self.assertEqual(theirs.user_id, self.client_user, "records are read as the client's user")
        mine, my_result = self.register()
        self.assertFalse(mine.client_id)

        listed = [w["webhook_id"] for w in self.api("GET", "/webhooks").json()["data"]]
        self.assertEqual(listed, [my_result["webhook_id"]])
        listed = [
            w["webhook_id"] for w in self.api("GET", "/webhooks", token=client_token).json()["data"]
        ]
        self.assertEqual(listed, [their_result["webhook_id"]])

        path = f"/webhooks/{their_result['webhook_id']}"
        for method, suffix, body in (
            ("GET", "", None),
            ("PATCH", "", {"status": "paused"}),
            ("POST", "/test", None),
            ("GET", "/deliveries", None),
            ("DELETE", "", None),
        ):
            with self.subTest(method=method, suffix=suffix):
                self.assertApiError(self.api(method, path + suffix, json=body), 404, "NOT_FOUND")
        self.env.invalidate_all()
        self.assertEqual(theirs.state, "active")
        self.assertTrue(theirs.exists())

        # nor can one redeliver another's deliveries
        self.create_partner()
        their_delivery = self.deliveries_of(theirs)
        self.assertEqual(len(their_delivery), 1)
        self.assertApiError(
            self.api("POST", f"/webhooks/deliveries/{their_delivery.id}/redeliver"),
            404,
            "NOT_FOUND",
        )
        # and the other way round
        self.assertApiError(
            self.api("GET", f"/webhooks/{my_result['webhook_id']}", token=client_token),
            404,
            "NOT_FOUND",
        )

    def test_client_needs_the_model(self):
        """A client subscribes only to models its rules allow."""
        body = self.spec_body(model="product.product", fields=["name"], conditions=[])
        self.assertApiError(
            self.api("POST", "/webhooks", json=body, token=self.client_token()),
            403,
            "PERMISSION_DENIED",
        )

    # -- bad input ---------------------------------------------------------------------------------
    def test_bad_input(self):
        cases = [
            ("url", {"url": "not a url"}),
            ("url", {"url": "ftp://example.com/hook"}),
            ("url", {"url": "http:///no-host"}),
            ("url", {"url": "https://user:pw@example.com/hook"}),
            ("url", {"url": None}),
            ("model", {"model": "res.no_such_model"}),
            ("model", {"model": None}),
            ("events", {"events": ["record.exploded"]}),
            ("events", {"events": []}),
            ("events", {"events": "create"}),
            ("no_such_field", {"fields": ["name", "no_such_field"]}),
            ("fields", {"fields": "name"}),
            ("conditions", {"conditions": "customer_rank > 0"}),
            ("conditions", {"conditions": [["customer_rank", ">"]]}),
            ("conditions", {"conditions": [["customer_rank", "~", 0]]}),
            ("no_field", {"conditions": [["no_field", "=", 1]]}),
            ("authentication.type", {"authentication": {"type": "oauth"}}),
            ("authentication.token", {"authentication": {"type": "bearer"}}),
        ]
        for field, change in cases:
            with self.subTest(field=field, change=change):
                response = self.api("POST", "/webhooks", json=self.spec_body(**change))
                error = self.assertApiError(response, 400, "VALIDATION_ERROR", field=field)
                self.assertTrue(error["message"])
        filters = {
            "events": ["record.created"],
            "model": "res.partner",
            "callback_url": self.receiver.url(),
            "filters": [["customer_rank", ">", 0]],
        }
        self.assertApiError(
            self.api("POST", "/events/subscribe", json=filters),
            400,
            "VALIDATION_ERROR",
            field="filters",
        )
        self.assertFalse(self.Webhook.search([]), "nothing was registered")

    def test_technical_model_refused(self):
        body = self.spec_body(model="ir.config_parameter", fields=["key"], conditions=[])
        self.assertApiError(self.api("POST", "/webhooks", json=body), 403, "PERMISSION_DENIED")
        self.assertFalse(self.Webhook.search([]))
