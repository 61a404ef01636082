from urllib.parse import urlsplit

from markupsafe import Markup, escape

from odoo import api, fields, models

from .api_sync_webhook import SHORT_EVENTS


class ApiSyncWebhook(models.Model):
    """How the webhook form shows a subscription: events as tags, fields as tags, conditions
    as a domain."""

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
        """``wh_abc (res.partner → hooks.example.com)``: what it watches and where it sends."""
        for webhook in self:
            host = urlsplit(webhook.url or "").netloc or webhook.url
            webhook.display_name = f"{webhook.identifier} ({webhook.model_name} → {host})"

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
