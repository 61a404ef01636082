import json

import requests

from odoo import api, fields, models
from odoo.tools import ormcache

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
        url = self.url
        self._sink_commit()
        return transport.post(session, url, body, headers)

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
