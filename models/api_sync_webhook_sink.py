import json
import time

import requests

from odoo import api, models
from odoo.tools import SQL, ormcache

from ..tools import delivery as transport
from ..tools import signing, urlguard
from ..tools.errors import ValidationFailed
from .api_sync_sink import SinkConfig
from .api_sync_webhook import SHORT_EVENTS


class ApiSyncWebhook(models.Model):
    """The webhook as a sink of the outbox: configurations, signed sending, owner's alerts."""

    _inherit = "api.sync.webhook"

    @api.model
    @ormcache()
    def _sink_configs(self):
        """Configurations of the active subscriptions, cached until they change: the outbox
        reads them on every captured write."""
        self.flush_model(["model_name", "state", "events", "conditions", "field_names", "user_id"])
        self.env.cr.execute(
            "SELECT model_name, id, user_id, events, conditions, field_names"
            " FROM api_sync_webhook WHERE state = 'active' ORDER BY id"
        )
        sinks = {}
        for model_name, sink_id, owner, events, conditions, names in self.env.cr.fetchall():
            names_by_type = {SHORT_EVENTS.get(name, name): name for name in reversed(events or [])}
            config = SinkConfig(
                self._name, sink_id, owner, names_by_type, conditions or [],
                tuple(names or ()), None,
            )  # fmt: skip
            sinks.setdefault(model_name, []).append(config)
        return {model_name: tuple(configs) for model_name, configs in sinks.items()}

    def _sink_field_names(self):
        """Fields sent in ``data``: the registered ones, else the default set; only those the
        owner may read (a field it cannot read would make the commit-time fan-out fail, and
        with it every write on the model)."""
        Data = self.env["api.sync.data"]
        Model = self.env[self.model_name].with_user(self.user_id)
        return Data._readable(Model, self.field_names or Data._default_field_names(self.model_name))

    def _record_data(self, deliveries):
        """``{delivery id: data}`` of record events of these webhooks sent with the default
        field set, read at first send as each webhook's owner: one read per model, owner and
        field set, whatever the number of webhooks; ``{}`` when the record is gone or no
        longer readable."""
        webhooks = {webhook.id: webhook for webhook in self}
        groups = deliveries.grouped(
            lambda d: (
                d.event_id.model,
                webhooks[d.sink_id].user_id,
                tuple(webhooks[d.sink_id]._sink_field_names()),
            )
        )
        data = {}
        for (model_name, owner, names), group in groups.items():
            records = self.env[model_name].with_user(owner).with_context(active_test=False)
            records = records.browse(group.event_id.mapped("res_id")).exists()
            readable = records._filtered_access("read")
            Data = self.env["api.sync.data"].with_user(owner)
            rows = {row.pop("id"): row for row in Data._serialize(readable, ["id", *names])}
            data.update((d.id, rows.get(d.event_id.res_id, {})) for d in group)
        return data

    def _requests(self, deliveries):
        """``{delivery id: Request}`` of these webhooks' ``deliveries``: the payloads signed.
        The ``data`` read at first send is stored, so that retries send the same body (same
        webhook-id)."""
        payloads = {delivery.id: delivery.payload for delivery in deliveries}
        unread = deliveries.filtered(lambda d: payloads[d.id]["data"] is None)
        if unread:
            for delivery_id, data in self._record_data(unread).items():
                payloads[delivery_id] = {**payloads[delivery_id], "data": data}
            self.env.execute_query(
                SQL(
                    "UPDATE api_sync_delivery d SET payload = v.payload"
                    " FROM jsonb_to_recordset(%s::jsonb) AS v(id int, payload jsonb)"
                    " WHERE d.id = v.id",
                    json.dumps([{"id": i, "payload": payloads[i]} for i in unread.ids]),
                )
            )
            unread.invalidate_recordset(["payload"])
        senders = {}
        for webhook in self:
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "odoo-api-sync/1",
                **webhook._auth_headers(),
            }
            senders[webhook.id] = (webhook.url, webhook.sudo().secret, headers)
        timestamp = int(time.time())
        prepared = {}
        for delivery in deliveries:
            url, secret, headers = senders[delivery.sink_id]
            payload = payloads[delivery.id]
            body = json.dumps(payload, separators=(",", ":")).encode()
            signature = signing.headers(secret, payload["id"], timestamp, body)
            prepared[delivery.id] = transport.Request(url, body, {**headers, **signature})
        return prepared

    def _refused_url(self):
        """Why the URL may not be called now (the address policy), or ``None``."""
        try:
            urlguard.check_url(self.url, **self._url_policy())
        except ValidationFailed as exc:
            return exc.message
        return None

    def _sink_prepare(self, deliveries):
        """The batch of all these webhooks signed at once; nothing for a webhook whose
        address is refused (its deliveries then fail in :meth:`_sink_send` with the
        reason)."""
        allowed = self.filtered(lambda webhook: not webhook._refused_url())
        return allowed._requests(deliveries.filtered(lambda d: d.sink_id in allowed.ids))

    def _sink_send(self, delivery, session):
        """POST the delivery's payload, signed; raises a transport error on failure."""
        self.ensure_one()
        refused = self._refused_url()
        if refused:
            raise transport.RetryableError(f"address refused: {refused}")
        request = self._requests(delivery)[delivery.id]
        self._sink_commit()
        return transport.post(session, *request)

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

    def _sink_stopped(self, state, reason):
        """Tell the owner (an activity) that the dispatcher disabled or paused the webhook."""
        for webhook in self.sudo():
            webhook.activity_schedule(
                "mail.mail_activity_data_warning",
                user_id=webhook.client_id.user_id.id or webhook.user_id.id,
                summary=self.env._("Webhook %s disabled", webhook.identifier)
                if state == "disabled"
                else self.env._("Webhook %s paused", webhook.identifier),
                note=reason,
            )
