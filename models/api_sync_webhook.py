from odoo import api, fields, models

from ..tools import query, signing, tokens, urlguard
from ..tools.errors import NotFound, PermissionDenied, ValidationFailed, field_error

EVENT_TYPES = (
    "record.created",
    "record.updated",
    "record.deleted",
    "state.changed",
    "batch.completed",
)
SHORT_EVENTS = {"create": "record.created", "update": "record.updated", "delete": "record.deleted"}
AUTH_TYPES = ("none", "bearer", "basic", "header")


class ApiSyncWebhook(models.Model):
    """A webhook subscription: registration and validation. Its sink behaviour (sending,
    signing, health) is in ``api_sync_webhook_sink.py``."""

    _name = "api.sync.webhook"
    _description = "API Sync Webhook Subscription"
    _inherit = ["api.sync.sink.mixin", "mail.thread", "mail.activity.mixin"]
    _order = "id desc"
    _rec_name = "identifier"

    identifier = fields.Char(
        string="Webhook ID",
        required=True,
        readonly=True,
        copy=False,
        default=lambda self: tokens.new_secret("wh_", 9),
    )
    client_id = fields.Many2one("api.sync.client", ondelete="cascade", index=True)
    user_id = fields.Many2one(
        "res.users",
        string="Owner",
        required=True,
        ondelete="cascade",
        help="Records are read as this user: the webhook receives only what the user may read.",
    )
    url = fields.Char(string="URL", required=True, tracking=True)
    model_name = fields.Char(string="Model", required=True, index=True)
    events = fields.Json(
        string="Event Names", required=True, help="Event names as registered (long or short form)."
    )
    events_display = fields.Char(string="Events", compute="_compute_events_display")
    field_names = fields.Json(
        string="Fields", help="Fields sent in `data`; empty: the default set."
    )
    conditions = fields.Json(help="Domain the record must match at commit time.")
    auth_type = fields.Selection(
        [(kind, kind.title()) for kind in AUTH_TYPES], default="none", required=True
    )
    auth_config = fields.Json(groups="base.group_system")
    secret = fields.Char(groups="base.group_system", copy=False)
    delivery_count = fields.Integer(compute="_compute_delivery_count")

    _identifier_unique = models.Constraint("UNIQUE(identifier)", "The webhook ID must be unique.")

    @api.depends("events")
    def _compute_events_display(self):
        for webhook in self:
            webhook.events_display = ", ".join(webhook.events or [])

    def _compute_delivery_count(self):
        counts = dict(
            self.env["api.sync.delivery"]
            .sudo()
            ._read_group(
                [("sink_model", "=", self._name), ("sink_id", "in", self.ids)],
                ["sink_id"],
                ["__count"],
            )
        )
        for webhook in self:
            webhook.delivery_count = counts.get(webhook.id, 0)

    # -- registration --------------------------------------------------------------------------
    @api.model
    def _normalize_events(self, events):
        if not isinstance(events, list) or not events:
            raise field_error(
                "events", self.env._("events must be a non-empty list"), events, "events"
            )
        for event in events:
            if SHORT_EVENTS.get(event, event) not in EVENT_TYPES:
                raise field_error(
                    "events",
                    self.env._(
                        "Unknown event %(e)s; known: %(k)s",
                        e=event,
                        k=", ".join(EVENT_TYPES + tuple(SHORT_EVENTS)),
                    ),
                    event,
                    "events",
                )
        return events

    @api.model
    def _url_policy(self):
        Auth = self.env["api.sync.auth"]
        return {
            "allow_http": Auth._param("webhook_allow_http"),
            "allow_private": Auth._param("webhook_allow_private_networks"),
        }

    @api.model
    def _check_auth(self, auth):
        if not auth:
            return "none", {}
        if not isinstance(auth, dict) or auth.get("type") not in AUTH_TYPES:
            raise field_error(
                "authentication.type",
                self.env._("authentication.type must be one of %s", ", ".join(AUTH_TYPES)),
                None,
                "auth",
            )
        kind = auth["type"]
        required = {
            "bearer": ["token"],
            "basic": ["username", "password"],
            "header": ["name", "value"],
            "none": [],
        }[kind]
        for key in required:
            if not isinstance(auth.get(key), str) or not auth[key]:
                raise field_error(
                    f"authentication.{key}",
                    self.env._("authentication.%s is required", key),
                    None,
                    "auth",
                )
        return kind, {key: auth[key] for key in required}

    @api.model
    def _prepare_registration(self, identity, payload, partial=False):
        """Validated webhook values from an API payload (the spec's registration body)."""
        Data = self.env["api.sync.data"]
        vals = {}
        if not partial or "model" in payload:
            model = payload.get("model")
            if not isinstance(model, str):
                raise field_error("model", self.env._("model is required"), None, "required")
            try:
                Data._model(identity, model, "read")
            except NotFound:  # the endpoint exists: an unknown model is bad input here
                raise field_error(
                    "model", self.env._("Unknown model %s", model), model, "model"
                ) from None
            if not self.env[model].has_access("read"):
                raise PermissionDenied(
                    self.env._("You may not read %s records", model), {"model": model}
                )
            vals["model_name"] = model
        Model = self.env[vals.get("model_name") or payload.get("_current_model")]
        if not partial or "url" in payload:
            urlguard.check_url(payload.get("url"), **self._url_policy())
            vals["url"] = payload["url"]
        if not partial or "events" in payload:
            vals["events"] = self._normalize_events(payload.get("events"))
        if "fields" in payload:
            names = payload["fields"] or []
            if not isinstance(names, list):
                raise field_error("fields", self.env._("fields must be a list"), names, "type")
            Data._read_field_names(Model, [n for n in names if isinstance(n, str)])
            if len(names) != len([n for n in names if isinstance(n, str)]):
                raise field_error("fields", self.env._("fields must be field names"), names, "type")
            vals["field_names"] = names
        if "conditions" in payload or "filters" in payload:
            conditions = payload.get("conditions")
            if conditions is None and payload.get("filters"):
                conditions = self._filters_to_domain(payload["filters"])
            conditions = conditions or []
            query.check_domain(Model._name, conditions, Data._fields_of, "conditions")
            vals["conditions"] = conditions
        if "authentication" in payload:
            vals["auth_type"], vals["auth_config"] = self._check_auth(payload["authentication"])
        if "status" in payload:
            if payload["status"] not in ("active", "paused"):
                raise field_error(
                    "status",
                    self.env._("status must be active or paused"),
                    payload["status"],
                    "status",
                )
            vals["state"] = payload["status"]
        return vals

    @api.model
    def _filters_to_domain(self, filters):
        """``{"customer_rank": [">", 0]}`` (events/subscribe) to ``[["customer_rank", ">", 0]]``."""
        if not isinstance(filters, dict):
            raise field_error("filters", self.env._("filters must be an object"), filters, "type")
        domain = []
        for name, condition in filters.items():
            if isinstance(condition, list) and len(condition) == 2:
                domain.append([name, condition[0], condition[1]])
            else:
                domain.append([name, "=", condition])
        return domain

    @api.model
    def _subscribe(self, identity, payload):
        """Create a subscription owned by the caller; returns it and its secret (shown once)."""
        vals = self._prepare_registration(identity, payload)
        client = self.env["api.sync.client"].sudo().browse(identity.client_id)
        secret = signing.new_secret()
        webhook = self.sudo().create(
            {
                **vals,
                "client_id": client.id or False,
                "user_id": client.user_id.id or identity.uid,
                "secret": secret,
            }
        )
        return webhook, secret

    @api.model
    def _owned_by(self, identity):
        """Domain of the subscriptions the caller manages."""
        if identity.client_id:
            return [("client_id", "=", identity.client_id)]
        return [("client_id", "=", False), ("user_id", "=", identity.uid)]

    def _receives_batch_of(self, owner):
        """Whether a batch made by ``owner`` ((client id, user id)) is this subscription's own
        (``batch.completed`` reaches the subscriptions of the batch's client or user only)."""
        self.ensure_one()
        client_id, uid = owner or (0, 0)
        if client_id:
            return self.client_id.id == client_id
        return not self.client_id and self.user_id.id == uid

    def _owner_may_filter(self, conditions):
        """Whether the owner may read every field ``conditions`` touch (at registration and at
        delivery: a condition on an unreadable field would be an oracle on its values)."""
        self.ensure_one()
        Data = self.env["api.sync.data"].with_user(self.user_id)
        try:
            query.check_domain(self.model_name, conditions, Data._fields_of, "conditions")
        except ValidationFailed:
            return False
        return True

    def _to_api(self):
        self.ensure_one()
        return {
            "webhook_id": self.identifier,
            "status": self.state,
            "url": self.url,
            "model": self.model_name,
            "events": self.events,
            "fields": self.field_names or [],
            "conditions": self.conditions or [],
            "authentication": {"type": self.auth_type},
            "disabled_reason": self.disabled_reason or None,
            "created_at": self.create_date and self.create_date.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    # -- UI actions ----------------------------------------------------------------------------
    def action_pause(self):
        self.write({"state": "paused"})

    def action_resume(self):
        self.write({"state": "active"})

    def action_send_test(self):
        """Queue a ``ping`` event to these subscriptions."""
        self.check_access("write")
        self.env["api.sync.event"]._emit_ping(self)

    def action_view_deliveries(self):
        self.ensure_one()
        self.check_access("read")
        action = self.env["ir.actions.act_window"]._for_xml_id("api_sync.action_api_sync_delivery")
        action["domain"] = [("webhook_id", "=", self.id)]
        return action
