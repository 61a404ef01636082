from urllib.parse import urlsplit

from markupsafe import Markup, escape

from odoo import api, fields, models
from odoo.exceptions import AccessError

from .api_sync_webhook import SHORT_EVENTS

MANAGER_GROUP = "api_sync.group_api_sync_manager"


class ApiSyncWebhook(models.Model):
    """The webhook form: events and fields as tags, conditions as a domain, and a *Send Test*
    that tells its outcome."""

    _inherit = "api.sync.webhook"

    event_tags = fields.Html(
        string="Subscribed Events", compute="_compute_event_tags", sanitize=False
    )
    field_ids = fields.Many2many(
        "ir.model.fields", string="Fields Sent", compute="_compute_field_ids"
    )
    conditions_domain = fields.Char(
        string="Record Conditions", compute="_compute_conditions_domain"
    )

    @api.depends("identifier", "model_name", "url")
    def _compute_display_name(self):
        """``wh_abc (res.partner → hooks.example.com/crm)``: what it watches, where it sends."""
        for webhook in self:
            url = urlsplit(webhook.url or "")
            target = f"{url.netloc}{url.path}".rstrip("/") or webhook.url
            webhook.display_name = f"{webhook.identifier} ({webhook.model_name} → {target})"

    @api.depends("events")
    def _compute_event_tags(self):
        event_type = self.env["api.sync.event"]._fields["event_type"]
        labels = dict(event_type._description_selection(self.env))
        for webhook in self:
            webhook.event_tags = Markup(" ").join(
                Markup('<span class="badge rounded-pill text-bg-info" title="%s">%s</span>')
                % (name, escape(labels.get(SHORT_EVENTS.get(name, name), name)))
                for name in webhook.events or []
            )

    @api.depends("model_name", "field_names")
    def _compute_field_ids(self):
        Fields = self.env["ir.model.fields"].sudo()
        for webhook in self:
            names = webhook.field_names or []
            found = Fields.search([("model", "=", webhook.model_name), ("name", "in", names)])
            by_name = {field.name: field for field in found}
            webhook.field_ids = [by_name[name].id for name in names if name in by_name]

    @api.depends("conditions")
    def _compute_conditions_domain(self):
        for webhook in self:
            webhook.conditions_domain = repr(webhook.conditions or [])

    def action_send_test(self):
        """Send a ``ping`` to this subscription now; the outcome as a notification."""
        self.ensure_one()
        if not self.env.user.has_group(MANAGER_GROUP):
            raise AccessError(self.env._("Only API Sync managers may test webhooks."))
        ping = self.env["api.sync.event"]._emit_ping(self)
        outcome = ping._send_now().get(ping.id) or {"state": ping.state}
        state, status = outcome["state"], outcome.get("status")
        values = {"url": self.url, "status": status, "error": outcome.get("error") or ""}
        if state == "done":
            kind, title = "success", self.env._("Ping delivered")
            values["ms"] = round(outcome.get("duration_ms") or 0)
            message = self.env._("%(url)s answered HTTP %(status)s in %(ms)s ms.", **values)
        elif state in ("retry", "dead"):
            kind, title = "danger", self.env._("Ping not delivered")
            message = (
                self.env._("%(url)s: %(error)s. The ping is retried like any delivery.", **values)
                if state == "retry"
                else self.env._("%(url)s: %(error)s. The ping is a dead letter.", **values)
            )
        else:
            kind, title = "warning", self.env._("Ping queued")
            message = self.env._(
                "An earlier ping to %(url)s is still waiting for its retry: this one is sent "
                "after it.",
                **values,
            )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": title,
                "message": message,
                "type": kind,
                "sticky": kind == "danger",
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }
