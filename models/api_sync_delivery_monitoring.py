from collections import defaultdict

from odoo import api, fields, models
from odoo.exceptions import AccessError

MANAGER_GROUP = "api_sync.group_api_sync_manager"
FAILED_STATES = ("retry", "dead")
REMOTE_ERROR_CHARS = 200


class ApiSyncDelivery(models.Model):
    """What the monitoring screens show of a delivery, and what a manager does with failures."""

    _inherit = "api.sync.delivery"

    state = fields.Selection(
        selection_add=[("resolved", "Resolved")], ondelete={"resolved": "set default"}
    )
    record_display = fields.Char(string="Record", compute="_compute_record_display")
    sink_name = fields.Char(string="Sent To", compute="_compute_sink_name")
    remote_error = fields.Char(
        compute="_compute_remote_error",
        help="The error and the start of what the other end answered.",
    )
    resolved_by_id = fields.Many2one("res.users", readonly=True)
    resolved_at = fields.Datetime(readonly=True)

    @api.depends("event_id.model", "event_id.res_id", "event_id.snapshot")
    def _compute_record_display(self):
        """``Contact: John Doe``; ``Contact #7`` when the record is not readable, or gone
        without a last known name the user may read (snapshots are for managers); the model
        alone for events about no record (ping, batch)."""
        ids_by_model = defaultdict(set)
        for delivery in self:
            ids = ids_by_model[delivery.event_id.model]
            if delivery.event_id.res_id:
                ids.add(delivery.event_id.res_id)
        names = {}
        for model_name, ids in ids_by_model.items():
            if not ids or model_name not in self.env:
                continue
            records = self.env[model_name].browse(ids).with_context(active_test=False).exists()
            for record in records._filtered_access("read"):
                names[model_name, record.id] = record.display_name
        labels = {
            model.model: model.name
            for model in self.env["ir.model"].sudo().search([("model", "in", list(ids_by_model))])
        }
        Event = self.env["api.sync.event"]
        snapshots = Event._has_field_access(Event._fields["snapshot"], "read")  # managers
        for delivery in self:
            event = delivery.event_id
            if not event.res_id:
                delivery.record_display = labels.get(event.model) or event.model
                continue
            label = labels.get(event.model) or event.model
            name = names.get((event.model, event.res_id))
            if name is None and snapshots and isinstance(event.snapshot, dict):
                name = event.snapshot.get("display_name") or event.snapshot.get("name")
            delivery.record_display = f"{label}: {name}" if name else f"{label} #{event.res_id}"

    @api.depends("last_error", "response_excerpt")
    def _compute_remote_error(self):
        for delivery in self:
            answer = " ".join((delivery.response_excerpt or "").split())[:REMOTE_ERROR_CHARS]
            parts = [delivery.last_error, answer]
            delivery.remote_error = ": ".join(part for part in parts if part) or False

    @api.depends("sink_model", "sink_id")
    def _compute_sink_name(self):
        for delivery in self:
            sink = self.env[delivery.sink_model].browse(delivery.sink_id).exists()
            delivery.sink_name = (
                sink.display_name if sink else f"{delivery.sink_model},{delivery.sink_id}"
            )

    @api.depends("event_type", "record_display", "sink_name")
    def _compute_display_name(self):
        types = dict(self._fields["event_type"]._description_selection(self.env))
        for delivery in self:
            event = types.get(delivery.event_type) or delivery.event_type or ""
            delivery.display_name = f"{event} · {delivery.record_display} → {delivery.sink_name}"

    # -- actions on failures -------------------------------------------------------------------
    def _check_manager(self):
        if not self.env.user.has_group(MANAGER_GROUP):
            raise AccessError(self.env._("Only API Sync managers may retry or resolve deliveries."))

    def action_retry(self):
        """Send these failed deliveries again now, as a fresh series of attempts."""
        self._check_manager()
        failed = self.filtered(lambda d: d.state in (*FAILED_STATES, "resolved"))
        failed.write({"resolved_by_id": False, "resolved_at": False})
        failed.action_redeliver()
        return self._notify_count(len(failed), self.env._("%s deliveries queued again"))

    def action_mark_resolved(self):
        """Acknowledge these failures (fixed by hand, or not to be sent): they leave the failed
        list and the counts, and can still be retried."""
        self._check_manager()
        failed = self.filtered(lambda d: d.state in FAILED_STATES)
        failed.write(
            {
                "state": "resolved",
                "resolved_by_id": self.env.uid,
                "resolved_at": fields.Datetime.now(),
            }
        )
        return self._notify_count(len(failed), self.env._("%s deliveries marked resolved"))

    def action_retry_all(self):
        """Retry every failed delivery (of the sink in the ``api_sync_sink`` context key, as
        ``"model,id"``, else of all sinks)."""
        self._check_manager()
        domain = [("state", "in", FAILED_STATES)]
        sink = self.env.context.get("api_sync_sink")
        if sink:
            sink_model, sink_id = sink.rsplit(",", 1)
            domain += [("sink_model", "=", sink_model), ("sink_id", "=", int(sink_id))]
        return self.search(domain).action_retry()

    def _notify_count(self, count, message):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "message": message % count,
                "type": "success" if count else "warning",
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }
