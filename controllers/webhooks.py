from odoo import http
from odoo.http import request

from ..tools import query
from ..tools.errors import NotFound, ValidationFailed
from .envelope import api_route, parse_id


def _webhook(call, webhook_id):
    """The caller's subscription ``webhook_id`` (``wh_...``); 404 for anyone else's."""
    Webhook = request.env["api.sync.webhook"].sudo()
    webhook = Webhook.search(
        [("identifier", "=", webhook_id), *Webhook._owned_by(call.identity)], limit=1
    )
    if not webhook:
        raise NotFound(f"Webhook {webhook_id} not found", {"webhook_id": webhook_id})
    return webhook


def _delivery_to_api(delivery):
    def iso(value):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None

    return {
        "id": delivery.id,
        "event_id": f"evt_{delivery.event_id.id}",
        "event": delivery.event_type,
        "record_id": delivery.event_id.res_id,
        "status": delivery.state,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status or None,
        "last_error": delivery.last_error or None,
        "response_excerpt": delivery.response_excerpt or None,
        "next_attempt_at": iso(delivery.next_attempt_at) if delivery.state == "retry" else None,
        "delivered_at": iso(delivery.delivered_at),
        "created_at": iso(delivery.create_date),
    }


class SyncWebhookController(http.Controller):
    """``/api/sync/v1/webhooks`` and ``/events/subscribe``: subscriptions of the caller."""

    @api_route("/webhooks", ["POST"])
    def register(self, call):
        webhook, secret = request.env["api.sync.webhook"]._subscribe(call.identity, call.body)
        return 201, {"webhook_id": webhook.identifier, "status": webhook.state, "secret": secret}

    @api_route("/events/subscribe", ["POST"])
    def subscribe(self, call):
        body = dict(call.body) if isinstance(call.body, dict) else {}
        if "callback_url" in body:
            body["url"] = body.pop("callback_url")
        webhook, secret = request.env["api.sync.webhook"]._subscribe(call.identity, body)
        return 201, {"webhook_id": webhook.identifier, "status": webhook.state, "secret": secret}

    @api_route("/webhooks", ["GET"])
    def index(self, call):
        Webhook = request.env["api.sync.webhook"].sudo()
        webhooks = Webhook.search(Webhook._owned_by(call.identity))
        return 200, {"data": [webhook._to_api() for webhook in webhooks]}

    @api_route("/webhooks/<string:webhook_id>", ["GET"])
    def show(self, call, webhook_id):
        return 200, {"data": _webhook(call, webhook_id)._to_api()}

    @api_route("/webhooks/<string:webhook_id>", ["PATCH", "PUT"])
    def change(self, call, webhook_id):
        webhook = _webhook(call, webhook_id)
        if not isinstance(call.body, dict) or not call.body:
            raise ValidationFailed("Send the fields to change as a JSON object")
        payload = {**call.body, "_current_model": webhook.model_name}
        vals = request.env["api.sync.webhook"]._prepare_registration(
            call.identity, payload, partial=True
        )
        webhook.write(vals)
        return 200, {"data": webhook._to_api()}

    @api_route("/webhooks/<string:webhook_id>", ["DELETE"])
    def remove(self, call, webhook_id):
        webhook = _webhook(call, webhook_id)
        webhook.unlink()
        return 200, {"message": "Webhook deleted", "webhook_id": webhook_id}

    @api_route("/webhooks/<string:webhook_id>/test", ["POST"])
    def test(self, call, webhook_id):
        webhook = _webhook(call, webhook_id)
        request.env["api.sync.event"].sudo()._emit_ping(webhook)
        return 202, {"message": "Ping event queued", "webhook_id": webhook_id}

    @api_route("/webhooks/<string:webhook_id>/deliveries", ["GET"])
    def deliveries(self, call, webhook_id):
        webhook = _webhook(call, webhook_id)
        params = call.params
        page = query.parse_int("page", params.get("page"), 1, 1)
        per_page = query.parse_int("per_page", params.get("per_page"), 50, 1, 500)
        domain = [("webhook_id", "=", webhook.id)]
        if params.get("status"):
            domain.append(("state", "=", params["status"]))
        Delivery = request.env["api.sync.delivery"].sudo()
        total = Delivery.search_count(domain)
        rows = Delivery.search(domain, offset=(page - 1) * per_page, limit=per_page)
        return 200, {
            "data": [_delivery_to_api(delivery) for delivery in rows],
            "pagination": {"total": total, "page": page, "per_page": per_page},
        }

    @api_route("/webhooks/deliveries/<string:delivery_id>/redeliver", ["POST"])
    def redeliver(self, call, delivery_id):
        Webhook = request.env["api.sync.webhook"].sudo()
        delivery = (
            request.env["api.sync.delivery"]
            .sudo()
            .search(
                [
                    ("id", "=", parse_id(delivery_id)),
                    ("webhook_id", "in", Webhook.search(Webhook._owned_by(call.identity)).ids),
                ]
            )
        )
        if not delivery:
            raise NotFound(f"Delivery {delivery_id} not found", {"delivery_id": delivery_id})
        delivery.action_redeliver()
        return 202, {"message": "Delivery queued", "data": _delivery_to_api(delivery)}
