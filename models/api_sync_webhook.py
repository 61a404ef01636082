import json

import psycopg2.errors
import requests

from odoo import api, fields, models
from odoo.tools import SQL, ormcache

from ..tools import delivery as transport
from ..tools import query, signing, tokens, urlguard
from ..tools.errors import NotFound, ValidationFailed, field_error

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
    """A webhook subscription: one kind of sink of the event outbox."""

    _name = "api.sync.webhook"
    _description = "API Sync Webhook Subscription"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "id desc"
    _rec_name = "identifier"

    identifier = fields.Char(
        string="Webhook ID",
        required=True,
        readonly=True,
        copy=False,
        default=lambda self: tokens.new_secret("wh_", 9),
    )
    state = fields.Selection(
        [("active", "Active"), ("paused", "Paused"), ("disabled", "Disabled")],
        default="active",
        required=True,
        tracking=True,
    )
    disabled_reason = fields.Char(tracking=True)
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
    last_success_at = fields.Datetime(readonly=True)
    failing_since = fields.Datetime(readonly=True)
    delivery_ids = fields.One2many("api.sync.delivery", "webhook_id")
    delivery_count = fields.Integer(compute="_compute_delivery_counts")
    dead_count = fields.Integer(compute="_compute_delivery_counts")

    _identifier_unique = models.Constraint("UNIQUE(identifier)", "The webhook ID must be unique.")

    @api.depends("events")
    def _compute_events_display(self):
        for webhook in self:
            webhook.events_display = ", ".join(webhook.events or [])

    def _compute_delivery_counts(self):
        Delivery = self.env["api.sync.delivery"]
        total = dict(
            Delivery._read_group([("webhook_id", "in", self.ids)], ["webhook_id"], ["__count"])
        )
        dead = dict(
            Delivery._read_group(
                [("webhook_id", "in", self.ids), ("state", "=", "dead")],
                ["webhook_id"],
                ["__count"],
            )
        )
        for webhook in self:
            webhook.delivery_count = total.get(webhook, 0)
            webhook.dead_count = dead.get(webhook, 0)

    # -- registry of tracked models ------------------------------------------------------------
    @api.model
    @ormcache()
    def _active_sinks(self):
        """{model: ((sink model, id, owner id, {event type: registered name}, conditions,
        field names), ...)} of the active subscriptions, cached until they change: it is read
        on every captured write."""
        self.flush_model(["model_name", "state", "events", "conditions", "field_names", "user_id"])
        self.env.cr.execute(
            "SELECT model_name, id, user_id, events, conditions, field_names"
            " FROM api_sync_webhook WHERE state = 'active' ORDER BY id"
        )
        sinks = {}
        for model_name, sink_id, owner, events, conditions, names in self.env.cr.fetchall():
            names_by_type = {SHORT_EVENTS.get(name, name): name for name in reversed(events or [])}
            config = (self._name, sink_id, owner, names_by_type, conditions, tuple(names or ()))
            sinks.setdefault(model_name, []).append(config)
        return {model_name: tuple(configs) for model_name, configs in sinks.items()}

    @api.model
    def _tracked_models(self):
        """Models with at least one active subscription: only their changes are captured."""
        return self._active_sinks().keys()

    @api.model_create_multi
    def create(self, vals_list):
        webhooks = super().create(vals_list)
        self.env.registry.clear_cache()
        return webhooks

    def write(self, vals):
        if vals.get("state") == "active":
            vals.setdefault("disabled_reason", False)
            vals.setdefault("failing_since", False)  # resumed: a fresh start
        res = super().write(vals)
        if {"state", "model_name"} & set(vals):
            self.env.registry.clear_cache()
            held = (
                self.env["api.sync.delivery"]
                .sudo()
                .search(
                    [
                        ("webhook_id", "in", self.ids),
                        ("state", "in", ("pending", "retry", "on_hold")),
                    ]
                )
            )
            held.filtered(lambda d: d.webhook_id.state != "active" and d.state != "on_hold").write(
                {"state": "on_hold"}
            )
            held.filtered(lambda d: d.webhook_id.state == "active" and d.state == "on_hold").write(
                {"state": "pending", "next_attempt_at": fields.Datetime.now()}
            )
        return res

    def unlink(self):
        res = super().unlink()
        self.env.registry.clear_cache()
        return res

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

    # -- sink interface (used by the outbox and the dispatcher) --------------------------------
    @api.model
    def _sinks_for(self, model_name):
        return self.sudo().browse(config[1] for config in self._active_sinks().get(model_name, ()))

    def _sink_field_names(self):
        """Fields sent in ``data``: the registered ones, else the default set; only those the
        owner may read (a field it cannot read would make the commit-time fan-out fail, and
        with it every write on the model)."""
        Data = self.env["api.sync.data"]
        Model = self.env[self.model_name].with_user(self.user_id)
        return Data._readable(Model, self.field_names or Data._default_field_names(self.model_name))

    def _sink_record_data(self, delivery):
        """``data`` of a record event with the default field set, read as the owner when the
        delivery is first sent; ``{}`` when the record is gone or no longer readable."""
        event = delivery.event_id
        record = self.env[event.model].with_user(self.user_id).browse(event.res_id)
        record = record.with_context(active_test=False).exists()._filtered_access("read")
        if not record:
            return {}
        Data = self.env["api.sync.data"].with_user(self.user_id)
        [row] = Data._serialize(record, ["id", *self._sink_field_names()])
        row.pop("id")
        return row

    def _sink_send(self, delivery, session):
        """POST the delivery's payload, signed; raises a transport error on failure."""
        self.ensure_one()
        try:
            urlguard.check_url(self.url, **self._url_policy())
        except ValidationFailed as exc:
            raise transport.RetryableError(f"address refused: {exc.message}") from None
        if delivery.payload["data"] is None:
            # first attempt with the default field set: read the record now, and keep it for
            # the retries (same webhook-id, same body)
            delivery.payload = {**delivery.payload, "data": self._sink_record_data(delivery)}
        body = json.dumps(delivery.payload, separators=(",", ":")).encode()
        timestamp = int(fields.Datetime.now().timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "odoo-api-sync/1",
            **signing.headers(self.sudo().secret, delivery.payload["id"], timestamp, body),
            **self._auth_headers(),
        }
        return transport.post(session, self.url, body, headers)

    def _auth_headers(self):
        config = self.sudo().auth_config or {}
        if self.auth_type == "bearer":
            return {"Authorization": f"Bearer {config['token']}"}
        if self.auth_type == "basic":
            encoded = requests.auth._basic_auth_str(config["username"], config["password"])
            return {"Authorization": encoded}
        if self.auth_type == "header":
            return {config["name"]: config["value"]}
        return {}

    def _lock_health(self):
        """Lock this subscription's row to record its health; False when another dispatcher
        holds it, or changed it since this transaction began: then the update is skipped (it is
        best effort, the next outcome records it).

        Several dispatchers deliver to one subscription at once: if each of them wrote this
        shared row, all but one would fail their whole batch at commit ("could not serialize
        access due to concurrent update") and send its deliveries a second time.
        """
        self.ensure_one()
        cr = self.env.cr
        try:
            with cr.savepoint(flush=False):
                query = SQL(
                    "SELECT id FROM api_sync_webhook WHERE id = %s FOR NO KEY UPDATE SKIP LOCKED",
                    self.id,
                )
                cr.execute(query, log_exceptions=False)
                return bool(cr.fetchall())
        except psycopg2.errors.SerializationFailure:
            return False

    def _sink_succeeded(self):
        """Record a success: at most once a minute, or when the subscription was failing."""
        now = fields.Datetime.now()
        webhook = self.sudo()
        recent = webhook.last_success_at and webhook.last_success_at > fields.Datetime.subtract(
            now, seconds=60
        )
        if (webhook.failing_since or not recent) and webhook._lock_health():
            webhook.write({"last_success_at": now, "failing_since": False})

    def _sink_failed(self, reason):
        """Record a failure; disable the subscription when it keeps failing for too long."""
        now = fields.Datetime.now()
        webhook = self.sudo()
        if not webhook.failing_since:
            if webhook._lock_health():
                webhook.failing_since = now
            return
        days = self.env["api.sync.auth"]._param("webhook_disable_after_days")
        too_long = webhook.failing_since <= fields.Datetime.subtract(now, days=days)
        if too_long and webhook._lock_health():
            webhook._disable(self.env._("Failing for %(d)s days: %(r)s", d=days, r=reason))

    def _sink_gone(self, reason):
        webhook = self.sudo()
        if webhook._lock_health():
            webhook._disable(reason)

    def _disable(self, reason):
        self.write({"state": "disabled", "disabled_reason": reason})
        for webhook in self:
            webhook.activity_schedule(
                "mail.mail_activity_data_warning",
                user_id=webhook.client_id.user_id.id or webhook.user_id.id,
                summary=self.env._("Webhook %s disabled", webhook.identifier),
                note=reason,
            )

    # -- UI actions ----------------------------------------------------------------------------
    def action_pause(self):
        self.write({"state": "paused"})

    def action_resume(self):
        self.write({"state": "active"})

    def action_send_test(self):
        """Queue a ``ping`` event to these subscriptions."""
        self.env["api.sync.event"]._emit_ping(self)

    def action_view_deliveries(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("api_sync.action_api_sync_delivery")
        action["domain"] = [("webhook_id", "=", self.id)]
        return action
