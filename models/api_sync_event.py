from collections import defaultdict

from odoo import api, fields, models

PRECOMMIT_KEY = "api_sync.changes"


class ApiSyncEvent(models.Model):
    """The transactional outbox: record changes captured in the transaction that made them."""

    _name = "api.sync.event"
    _description = "API Sync Event"
    _order = "id desc"
    _rec_name = "event_type"

    event_type = fields.Selection(
        [
            ("record.created", "Record Created"),
            ("record.updated", "Record Updated"),
            ("record.deleted", "Record Deleted"),
            ("state.changed", "State Changed"),
            ("batch.completed", "Batch Completed"),
            ("ping", "Ping"),
        ],
        required=True,
        index=True,
    )
    model = fields.Char(required=True, index=True)
    res_id = fields.Integer(string="Record ID", index=True)
    changed_fields = fields.Json()
    old_state = fields.Char()
    new_state = fields.Char()
    snapshot = fields.Json(help="Last known values of a deleted record; summary of a batch.")
    user_id = fields.Many2one("res.users", ondelete="set null")
    company_id = fields.Many2one("res.company", ondelete="set null")
    delivery_ids = fields.One2many("api.sync.delivery", "event_id")

    # -- capture (called from the create/write/unlink hooks on every model) --------------------
    @api.model
    def _changes(self):
        """This transaction's pending changes: {model: {id: change}}; flushed at commit."""
        data = self.env.cr.precommit.data
        if PRECOMMIT_KEY not in data:
            data[PRECOMMIT_KEY] = defaultdict(dict)
            self.env.cr.precommit.add(self._flush_changes)
        return data[PRECOMMIT_KEY]

    @api.model
    def _capture(self, records, kind, fnames=(), old_states=None, snapshots=None, readers=None):
        changes = self._changes()[records._name]
        for record_id in records._ids:
            change = changes.setdefault(record_id, {"kind": kind, "fields": set()})
            if kind == "created":
                # writes made by the model's own create() (account.move, ...) are captured
                # before it returns: they are part of the creation
                change["kind"] = "created"
            elif kind == "deleted":
                change["kind"] = "dropped" if change["kind"] == "created" else "deleted"
                change["snapshot"] = (snapshots or {}).get(record_id, {})
                if readers is not None:
                    change["readers"] = readers.get(record_id, set())
            elif kind == "updated":
                change["fields"].update(fnames)
                if old_states and "old_state" not in change and change["kind"] == "updated":
                    change["old_state"] = old_states.get(record_id)

    @api.model
    def _capture_batch(self, model_name, summary):
        """Queue a ``batch.completed`` event for ``model_name`` with the batch's summary."""
        self._changes()[model_name][("batch", len(self._changes()[model_name]))] = {
            "kind": "batch",
            "snapshot": summary,
        }

    @api.model
    def _emit_ping(self, webhooks):
        """A ``ping`` event delivered to ``webhooks`` only (``POST .../test``)."""
        for webhook in webhooks:
            event = self.sudo().create(
                {"event_type": "ping", "model": webhook.model_name, "res_id": 0,
                 "user_id": self.env.uid, "company_id": self.env.company.id}
            )  # fmt: skip
            self._queue_deliveries(webhook, [(event, {"message": "ping"})])
        self.env["api.sync.dispatcher"]._trigger()

    # -- commit-time fan-out -------------------------------------------------------------------
    @api.model
    def _flush_changes(self):
        """Precommit hook: turn the transaction's changes into events and deliveries."""
        changes = self.env.cr.precommit.data.pop(PRECOMMIT_KEY, {})
        env = self.env(su=True, context={"active_test": False, "api_sync_author": self.env.uid})
        queued = False
        for model_name, by_id in changes.items():
            sinks = env["api.sync.webhook"]._sinks_for(model_name)
            if sinks:
                queued |= env["api.sync.event"]._fan_out(model_name, by_id, sinks)
        if queued:
            env["api.sync.dispatcher"]._trigger()

    @api.model
    def _fan_out(self, model_name, by_id, sinks):
        Model = self.env[model_name]
        alive = Model.browse([rid for rid, c in by_id.items() if c["kind"] in ("created", "updated")]).exists()
        alive_ids = set(alive.ids)
        base = {"model": model_name, "user_id": self.env.context.get("api_sync_author"),
                "company_id": self.env.company.id}  # fmt: skip
        vals_list = []
        for rid, change in by_id.items():
            kind = change["kind"]
            if kind == "batch":
                vals_list.append({**base, "event_type": "batch.completed", "res_id": 0,
                                  "snapshot": change["snapshot"]})  # fmt: skip
            elif kind == "deleted":
                vals_list.append({**base, "event_type": "record.deleted", "res_id": rid,
                                  "snapshot": change.get("snapshot")})  # fmt: skip
            elif rid in alive_ids and kind == "created":
                vals_list.append({**base, "event_type": "record.created", "res_id": rid})
            elif rid in alive_ids:
                vals_list.append({**base, "event_type": "record.updated", "res_id": rid,
                                  "changed_fields": sorted(change["fields"])})  # fmt: skip
                new_state = Model.browse(rid).state if "old_state" in change else None
                if new_state is not None and new_state != change["old_state"]:
                    vals_list.append({**base, "event_type": "state.changed", "res_id": rid,
                                      "changed_fields": ["state"], "old_state": change["old_state"],
                                      "new_state": new_state})  # fmt: skip
        if not vals_list:
            return False
        events = self.create(vals_list)
        queued = False
        for sink in sinks:
            wanted = events.filtered(lambda e, s=sink: s._sink_event_name(e.event_type))
            if not wanted:
                continue
            live = wanted.filtered(lambda e: e.event_type in ("record.created", "record.updated",
                                                              "state.changed"))
            readable = sink._sink_filter(Model.browse(set(live.mapped("res_id")) & alive_ids))
            names = sink._sink_field_names()
            Data = self.env["api.sync.data"].with_user(sink.user_id)
            rows = Data._serialize(readable.with_user(sink.user_id), ["id", *names])
            values = {row.pop("id"): row for row in rows}
            items = []
            for event in wanted:
                if event.event_type in ("record.deleted",):
                    readers = by_id.get(event.res_id, {}).get("readers")
                    if readers is not None and sink.id not in readers:
                        continue  # the owner could not read the record before it was deleted
                    if not Model.with_user(sink.user_id).has_access("read"):
                        continue
                    snapshot = event.snapshot or {}
                    data = {name: snapshot.get(name) for name in names if name in snapshot}
                elif event.event_type == "batch.completed":
                    data = event.snapshot
                elif event.res_id in values:
                    data = values[event.res_id]
                else:
                    continue
                items.append((event, data))
            queued |= self._queue_deliveries(sink, items)
        return queued

    @api.model
    def _queue_deliveries(self, sink, items):
        if not items:
            return False
        self.env["api.sync.delivery"].sudo().create(
            [
                {
                    "event_id": event.id,
                    "sink_model": sink._name,
                    "sink_id": sink.id,
                    "webhook_id": sink.id if sink._name == "api.sync.webhook" else False,
                    "record_key": f"{event.model},{event.res_id}",
                    "payload": sink._sink_payload(event, data),
                }
                for event, data in items
            ]
        )
        return True
