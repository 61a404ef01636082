import json
from collections import defaultdict

from odoo import api, fields, models
from odoo.tools import SQL

PRECOMMIT_KEY = "api_sync.changes"
LIVE = frozenset({"record.created", "record.updated", "state.changed"})


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
        origin = records.env.context.get("api_sync_origin")
        for record_id in records._ids:
            change = changes.setdefault(
                record_id, {"kind": kind, "fields": set(), "origins": set()}
            )
            change["origins"].add(origin)
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
        """A ``ping`` event delivered to ``webhooks`` only (``POST .../test``); returns its
        deliveries (``_send_now`` sends them at once)."""
        events, targets = [], []
        for webhook in webhooks:
            events.append({"event_type": "ping", "model": webhook.model_name, "res_id": 0})
            key = f"{webhook.model_name},0"
            targets.append(
                (len(events), webhook._name, webhook.id, "ping", key, {"message": "ping"})
            )
        return self._insert(events, targets)

    # -- commit-time fan-out -------------------------------------------------------------------
    @api.model
    def _flush_changes(self):
        """Precommit hook: turn the transaction's changes into events and deliveries.

        It runs in the writer's transaction, so it does only what must be decided at commit
        time (which sinks want which events, conditions on the record as committed, the last
        values of deleted records) and writes everything with one SQL statement; the
        dispatcher reads a record's ``data`` as the subscription's owner when it sends.
        """
        changes = self.env.cr.precommit.data.pop(PRECOMMIT_KEY, {})
        env = self.env(su=True, context={"active_test": False})
        configs = env["api.sync.sink.mixin"]._sink_all_configs()
        events, targets = [], []
        for model_name, by_id in changes.items():
            if configs.get(model_name):
                env["api.sync.event"]._collect(
                    model_name, by_id, configs[model_name], events, targets
                )
        if events:
            env["api.sync.event"]._insert(events, targets, author=self.env.uid)

    @api.model
    def _event_values(self, model_name, by_id):
        """The events of one model's changes in this transaction, as column values."""
        Model = self.env[model_name]
        vals_list = []
        for rid, change in by_id.items():
            kind = change["kind"]
            base = {"model": model_name, "res_id": rid}
            if kind == "batch":
                vals_list.append({**base, "event_type": "batch.completed", "res_id": 0,
                                  "snapshot": change["snapshot"]})  # fmt: skip
            elif kind == "deleted":
                vals_list.append({**base, "event_type": "record.deleted",
                                  "snapshot": change.get("snapshot")})  # fmt: skip
            elif kind == "created":
                vals_list.append({**base, "event_type": "record.created"})
            elif kind == "updated":
                vals_list.append({**base, "event_type": "record.updated",
                                  "changed_fields": sorted(change["fields"])})  # fmt: skip
                new_state = Model.browse(rid).state if "old_state" in change else None
                if new_state is not None and new_state != change["old_state"]:
                    vals_list.append({**base, "event_type": "state.changed",
                                      "changed_fields": ["state"], "old_state": change["old_state"],
                                      "new_state": new_state})  # fmt: skip
        return vals_list

    @api.model
    def _collect(self, model_name, by_id, sinks, events, targets):
        """Append one model's events to ``events`` and, for each sink of ``sinks``
        (:class:`~.api_sync_sink.SinkConfig`) that receives one, a target
        ``(event position, sink model, sink id, event name, record key, data)`` to ``targets``.

        Decided here, on the records as committed: conditions, and whether the owner may read
        the record. ``data`` is read here too when the sink names its fields; otherwise it is
        read when the delivery is first sent (``None`` here). A ``record.updated`` touching none
        of the sink's ``trigger_fields`` is not queued, nor a change written on behalf of that
        same sink (context ``api_sync_origin``).
        """
        Model = self.env[model_name]
        first = len(events)
        events.extend(self._event_values(model_name, by_id))
        live = Model.browse(
            dict.fromkeys(e["res_id"] for e in events[first:] if e["event_type"] in LIVE)
        )
        record_ids = [e["res_id"] for e in events[first:]]
        readable, values = {}, {}  # per owner: readable ids; per (owner, fields): data by id
        for config in sinks:
            sink = self.env[config.sink_model].browse(config.sink_id)
            origin = f"{config.sink_model},{config.sink_id}"
            names_by_type, owner = config.events, config.owner_id
            keys = None
            matching = None
            for position in range(first, len(events)):
                event = events[position]
                event_type, res_id = event["event_type"], event["res_id"]
                if event_type not in names_by_type:
                    continue
                change = by_id.get(res_id) or {}
                if change.get("origins") == {origin}:
                    continue  # written back by this sink itself
                if (
                    event_type == "record.updated"
                    and config.trigger_fields is not None
                    and not config.trigger_fields.intersection(event["changed_fields"])
                ):
                    continue
                if event_type == "record.deleted":
                    readers = change.get("readers")
                    if readers is not None and (config.sink_model, config.sink_id) not in readers:
                        continue  # the owner could not read the record before it was deleted
                    snapshot = event["snapshot"] or {}
                    data = {name: snapshot[name] for name in sink._sink_field_names()
                            if name in snapshot}  # fmt: skip
                elif event_type == "batch.completed":
                    data = event["snapshot"]
                else:
                    if matching is None:
                        if owner not in readable:
                            readable[owner] = set(
                                live.with_user(owner)._filtered_access("read").ids
                            )
                        matching = live.browse(readable[owner])
                        if config.conditions:
                            matching = matching.filtered_domain(config.conditions)
                        matching = set(matching.ids)
                    if res_id not in matching:
                        continue
                    data = None
                    if config.field_names:
                        key = (owner, config.field_names)
                        if key not in values:
                            values[key] = self._read_as(
                                live.browse(readable[owner]), owner, config.field_names
                            )
                        data = values[key].get(res_id)
                if keys is None:
                    keys = sink._sink_record_keys(model_name, record_ids)
                targets.append(
                    (position + 1, config.sink_model, config.sink_id,
                     names_by_type[event_type], keys[res_id], data)
                )  # fmt: skip

    @api.model
    def _read_as(self, records, owner, field_names):
        """{id: data} of ``records`` with the ``field_names`` ``owner`` may read."""
        Model = records.with_user(owner)
        Data = self.env["api.sync.data"].with_user(owner)
        rows = Data._serialize(Model, ["id", *Data._readable(Model, field_names)])
        return {row.pop("id"): row for row in rows}

    @api.model
    def _insert(self, events, targets, author=None):
        """Insert ``events`` and the deliveries of ``targets`` (see :meth:`_collect`) with one
        statement, and wake the dispatcher unless it is already due to run; returns the
        deliveries."""
        uid = author or self.env.uid
        now = fields.Datetime.now()
        events_json = [{"ord": position, **event} for position, event in enumerate(events, 1)]
        targets_json = [
            {"ord": ord_, "sink_model": model, "sink_id": sink_id, "name": name,
             "record_key": key, "data": data}
            for ord_, model, sink_id, name, key, data in targets
        ]  # fmt: skip
        cron_id = self.env["ir.model.data"]._xmlid_to_res_id("api_sync.ir_cron_dispatch")
        [(delivery_ids, due)] = self.env.execute_query(
            SQL(
                """
            WITH ev AS (
                INSERT INTO api_sync_event (event_type, model, res_id, changed_fields, old_state,
                       new_state, snapshot, user_id, company_id, create_uid, write_uid,
                       create_date, write_date)
                SELECT v.event_type, v.model, v.res_id, v.changed_fields, v.old_state,
                       v.new_state, v.snapshot, %(uid)s,
                       (SELECT company_id FROM res_users WHERE id = %(uid)s),
                       %(uid)s, %(uid)s, %(now)s, %(now)s
                  FROM jsonb_to_recordset(%(events)s::jsonb) AS v(ord int, event_type varchar,
                       model varchar, res_id int, changed_fields jsonb, old_state varchar,
                       new_state varchar, snapshot jsonb)
                 ORDER BY v.ord
             RETURNING id, event_type, model, res_id, changed_fields, old_state, new_state,
                       user_id, company_id, create_date
            ), dl AS (
                INSERT INTO api_sync_delivery (event_id, sink_model, sink_id, record_key,
                       payload, state, attempts, next_attempt_at, create_uid, write_uid,
                       create_date, write_date)
                SELECT ev.id, t.sink_model, t.sink_id, t.record_key,
                       jsonb_build_object(
                           'id', 'evt_' || ev.id,
                           'event', t.name,
                           'timestamp', to_char(ev.create_date, 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                           'model', ev.model,
                           'record_id', ev.res_id,
                           'data', t.data,
                           'changed_fields', COALESCE(ev.changed_fields, '[]'::jsonb),
                           'metadata', jsonb_build_object(
                               'user_id', ev.user_id, 'company_id', ev.company_id,
                               'database', current_database()))
                       || CASE WHEN ev.event_type = 'state.changed' THEN jsonb_build_object(
                           'old_state', ev.old_state, 'new_state', ev.new_state)
                          ELSE '{}'::jsonb END,
                       'pending', 0, %(now)s, %(uid)s, %(uid)s, %(now)s, %(now)s
                  FROM jsonb_to_recordset(%(targets)s::jsonb) AS t(ord int, sink_model varchar,
                       sink_id int, name varchar, record_key varchar, data jsonb)
                  JOIN (SELECT *, row_number() OVER (ORDER BY id) AS ord FROM ev) AS ev
                    ON ev.ord = t.ord
             RETURNING id
            )
            SELECT (SELECT array_agg(id ORDER BY id) FROM dl),
                   EXISTS (SELECT 1 FROM ir_cron_trigger
                            WHERE cron_id = %(cron)s AND call_at <= %(now)s)
            """,
                uid=uid,
                now=now,
                events=json.dumps(events_json),
                targets=json.dumps(targets_json),
                cron=cron_id,
            )
        )
        if targets:
            self.env["api.sync.dispatcher"]._trigger(pending=due)
        return self.env["api.sync.delivery"].browse(delivery_ids or [])
