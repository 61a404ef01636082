from collections import namedtuple

from odoo import api, fields, models
from odoo.tools import SQL, ormcache

SINK_MIXIN = "api.sync.sink.mixin"

SinkConfig = namedtuple(
    "SinkConfig",
    [
        "sink_model",  # e.g. "api.sync.webhook", "api.sync.tactill.backend"
        "sink_id",  # int
        "owner_id",  # res.users id the records are read and checked as
        "events",  # {event_type: name sent}
        "conditions",  # domain the record must match at commit time, or []
        "field_names",  # fields read into ``data`` at commit, or () (read at send time)
        "trigger_fields",  # frozenset: a record.updated touching none of them queues nothing;
        # None: any field
    ],
)


def sink_models(env):
    """Names of the concrete models inheriting :class:`ApiSyncSinkMixin`, directly or not."""
    registry = env.registry
    names, todo = set(), [SINK_MIXIN]
    while todo:
        for child in registry[todo.pop()]._inherit_children:
            if child not in names:
                names.add(child)
                todo.append(child)
    return sorted(
        name for name in names if not registry[name]._abstract and not registry[name]._transient
    )


class ApiSyncSinkMixin(models.AbstractModel):
    """A destination of the event outbox ("one outbox, many sinks"): webhooks, connectors.

    A sink is a record of a model inheriting this mixin. The outbox asks every such model for
    its configurations and queues ``api.sync.delivery`` rows; the dispatcher sends them through
    the sink. Methods to implement or extend (all private, never RPC-callable):

    ``_sink_configs()`` (``@api.model``, ormcached)
        ``{model name: (SinkConfig, ...)}`` of the active sinks of this kind; the cache is
        cleared when a sink is created, written or deleted.
    ``_sink_record_keys(model_name, ids)``
        ``{id: record key}``: deliveries of one key to one sink keep commit order (default
        ``"model,id"``; a connector may map variants to their template's key).
    ``_sink_prepare(deliveries)``
        Batch work before sending ``deliveries`` (just claimed, of the sinks ``self``, all
        those of this model in the batch), in a short transaction of the dispatcher committed
        before the sends: e.g. read the records of the whole batch at once. Returns
        ``{delivery id: tools.delivery.Request}`` for the deliveries that are one plain POST:
        the dispatcher sends those itself, with no database work; the others go through
        ``_sink_send``. Default: ``{}``. When it raises, it is called again sink by sink, and
        a sink whose call still raises has its deliveries sent through ``_sink_send``.
    ``_sink_send(delivery, session)``
        Perform one delivery, return ``(status, excerpt)``; raise the errors of
        ``tools/delivery.py``: ``RetryableError`` (backoff, or after ``seconds``),
        ``GoneError`` (sink disabled), ``DeliveryError`` (dead letter, replayable),
        ``PausingError`` (sink paused with the reason, delivery held until resumed). Any
        other exception is recorded on the delivery as a failed attempt. Runs in a sender
        thread with its own cursor, outside any claim transaction: it may read the ORM and
        commit its own bookkeeping, and calls :meth:`_sink_commit` before waiting on the
        network so that no transaction stays open meanwhile.
    ``_sink_concurrency()``
        Deliveries of this sink in flight at once (default: setting
        ``api_sync.sink_concurrency``, 4).
    ``_sink_succeeded()``, ``_sink_failed(reason)``, ``_sink_gone(reason)``,
    ``_sink_pause(reason)``
        Health bookkeeping after an attempt; kept in ``api.sync.sink.health`` with atomic
        statements, so concurrent dispatchers never fail on each other's updates.
    ``_sink_field_names()``
        Fields whose last values a ``record.deleted`` event keeps (default: none).
    ``_owner_may_filter(conditions)``, ``_receives_batch_of(owner)``
        Authorization at commit time: whether the sink's owner may filter on every field of
        its conditions, and whether a ``batch.completed`` made by ``owner`` ((client id,
        user id)) is the sink's own (defaults: yes, and no).

    Loop guard: changes written with ``context api_sync_origin="<sink model>,<sink id>"``
    (a connector writing back an external reference) are not queued to that same sink.
    """

    _name = SINK_MIXIN
    _description = "API Sync Sink"

    state = fields.Selection(
        [("active", "Active"), ("paused", "Paused"), ("disabled", "Disabled")],
        default="active",
        required=True,
        tracking=True,
    )
    disabled_reason = fields.Char(tracking=True)
    last_success_at = fields.Datetime(
        compute="_compute_sink_health",
        inverse="_inverse_sink_health",
        search="_search_last_success_at",
    )
    failing_since = fields.Datetime(
        compute="_compute_sink_health",
        inverse="_inverse_sink_health",
        search="_search_failing_since",
    )
    pending_count = fields.Integer(compute="_compute_sink_counts")
    failed_count = fields.Integer(compute="_compute_sink_counts", help="Deliveries retrying.")
    dead_count = fields.Integer(compute="_compute_sink_counts")
    sink_display_name = fields.Char(compute="_compute_sink_display_name")

    def _compute_sink_display_name(self):
        label = self.env["ir.model"]._get(self._name).name
        for sink in self:
            sink.sink_display_name = f"{label}: {sink.display_name}"

    def _compute_sink_counts(self):
        groups = (
            self.env["api.sync.delivery"]
            .sudo()
            ._read_group(
                [("sink_model", "=", self._name), ("sink_id", "in", self.ids)],
                ["sink_id", "state"],
                ["__count"],
            )
        )
        counts = {(sink_id, state): count for sink_id, state, count in groups}
        for sink in self:
            sink.pending_count = sum(
                counts.get((sink.id, state), 0) for state in ("pending", "sending", "on_hold")
            )
            sink.failed_count = counts.get((sink.id, "retry"), 0)
            sink.dead_count = counts.get((sink.id, "dead"), 0)

    def _compute_sink_health(self):
        health = self.env["api.sync.sink.health"].sudo()._of(self)
        for sink in self:
            row = health.get(sink.id, {})
            sink.last_success_at = row.get("last_success_at")
            sink.failing_since = row.get("failing_since")

    def _search_last_success_at(self, operator, value):
        return self._search_health("last_success_at", operator, value)

    def _search_failing_since(self, operator, value):
        return self._search_health("failing_since", operator, value)

    def _search_health(self, column, operator, value):
        """Domain on a column of ``api.sync.sink.health`` (no row: never succeeded/failing)."""
        Health = self.env["api.sync.sink.health"].sudo()
        domain = [("sink_model", "=", self._name), (column, operator, value)]
        ids = Health.search(domain).mapped("sink_id")
        if operator == "not in" or (operator == "in" and False in value):
            # sinks without a health row have no value either
            known = Health.search([("sink_model", "=", self._name)]).mapped("sink_id")
            return ["|", ("id", "in", ids), ("id", "not in", known)]
        return [("id", "in", ids)]

    def _inverse_sink_health(self):
        Health = self.env["api.sync.sink.health"].sudo()
        for sink in self:
            Health._set(
                sink, last_success_at=sink.last_success_at, failing_since=sink.failing_since
            )

    # -- configuration -------------------------------------------------------------------------
    @api.model
    def _sink_configs(self):
        """``{model name: (SinkConfig, ...)}`` of the active sinks of this kind."""
        return {}

    @api.model
    @ormcache()
    def _sink_all_configs(self):
        """The configurations of every sink model, merged: ``{model name: (SinkConfig, ...)}``.

        Read on every captured write: cached, cleared with the sinks' own caches."""
        merged = {}
        for name in sink_models(self.env):
            for model_name, configs in self.env[name]._sink_configs().items():
                merged[model_name] = merged.get(model_name, ()) + tuple(configs)
        return merged

    @api.model
    def _tracked_models(self):
        """Models with at least one active sink: only their changes are captured."""
        return self._sink_all_configs().keys()

    def _sink_record_keys(self, model_name, ids):
        return {record_id: f"{model_name},{record_id}" for record_id in ids}

    def _sink_field_names(self):
        return ()

    def _owner_may_filter(self, conditions):
        return True

    def _receives_batch_of(self, owner):
        return False

    def _sink_concurrency(self):
        return max(self.env["api.sync.auth"]._param("sink_concurrency"), 1)

    def _sink_is_active(self):
        """Whether this (existing) sink takes deliveries."""
        return bool(self) and self.state == "active"

    # -- sending -------------------------------------------------------------------------------
    def _sink_prepare(self, deliveries):
        return {}

    def _sink_send(self, delivery, session):
        raise NotImplementedError(f"{self._name} does not implement _sink_send")

    def _sink_commit(self):
        """End the sender's transaction before waiting on the network (its own cursor); a no-op
        when the delivery is sent inside the caller's transaction (``_send_now``, tests)."""
        if self.env.context.get("api_sync_own_cursor"):
            self.env.cr.commit()  # pylint: disable=invalid-commit  (a sender's own cursor)

    # -- health --------------------------------------------------------------------------------
    def _sink_succeeded(self):
        self.env["api.sync.sink.health"].sudo()._succeeded(self)

    def _sink_failed(self, reason):
        """Record a failure; disable the sink when it has been failing for too long."""
        since = self.env["api.sync.sink.health"].sudo()._failed(self)
        days = self.env["api.sync.auth"]._param("webhook_disable_after_days")
        if since and since <= fields.Datetime.subtract(fields.Datetime.now(), days=days):
            self._sink_gone(self.env._("Failing for %(d)s days: %(r)s", d=days, r=reason))

    def _sink_gone(self, reason):
        self._sink_set_state("disabled", reason)

    def _sink_pause(self, reason):
        self._sink_set_state("paused", reason)

    def _sink_set_state(self, state, reason):
        """Stop this sink from the dispatcher: its queued deliveries are held until resumed.

        Done with statements that skip a row another transaction is changing (the user pausing
        it at the same moment), so the dispatcher never fails on it.
        """
        self.ensure_one()
        rows = self.env.execute_query(
            SQL(
                "UPDATE %s SET state = %s, disabled_reason = %s, write_date = now() at time zone"
                " 'UTC' WHERE id IN (SELECT id FROM %s WHERE id = %s AND state = 'active'"
                " FOR NO KEY UPDATE SKIP LOCKED) RETURNING id",
                SQL.identifier(self._table),
                state,
                reason,
                SQL.identifier(self._table),
                self.id,
            )
        )
        self.invalidate_recordset(["state", "disabled_reason"])
        self.env.registry.clear_cache()
        self.env["api.sync.delivery"].sudo()._hold(self)
        if rows:
            self._sink_stopped(state, reason)

    def _sink_stopped(self, state, reason):
        """Hook: the dispatcher has just paused or disabled this sink (tell its owner)."""

    # -- CRUD ----------------------------------------------------------------------------------
    @api.model_create_multi
    def create(self, vals_list):
        sinks = super().create(vals_list)
        self.env.registry.clear_cache()
        return sinks

    def write(self, vals):
        if vals.get("state") == "active":
            vals.setdefault("disabled_reason", False)
        res = super().write(vals)
        if vals.get("state") in ("paused", "disabled"):
            self.env["api.sync.delivery"].sudo()._hold(self, best_effort=True)
        elif vals.get("state") == "active":
            # resumed: a fresh start, and what was held is queued again
            self.env["api.sync.sink.health"].sudo()._reset(self)
            self.env["api.sync.delivery"].sudo()._release(self)
        self.env.registry.clear_cache()
        return res

    def unlink(self):
        """Deleted sinks' deliveries are removed by the dispatcher (a delete here would fight
        the dispatchers recording their outcomes, see ``api.sync.delivery._gc_orphans``)."""
        res = super().unlink()
        self.env.registry.clear_cache()
        self.env["api.sync.dispatcher"]._trigger()
        return res
