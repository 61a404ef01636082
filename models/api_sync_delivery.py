import functools
import json
import logging
import time
import uuid
from collections import namedtuple

import psycopg2.errors
import requests

from odoo import api, fields, models
from odoo.tools import SQL

from ..tools import delivery as transport

_logger = logging.getLogger(__name__)

PENDING_STATES = ("pending", "retry")
RETRYABLE = (
    psycopg2.errors.SerializationFailure,
    psycopg2.errors.DeadlockDetected,
    psycopg2.errors.LockNotAvailable,
)
Sent = namedtuple("Sent", ["result", "duration_ms", "attempted_at"])
Sent.__doc__ = """An attempt: ``result`` is ``(status, excerpt)`` or the exception raised."""


class ApiSyncDelivery(models.Model):
    """One event to one sink: the unit of retry, dead-lettering and replay."""

    _name = "api.sync.delivery"
    _description = "API Sync Delivery"
    _order = "id desc"

    event_id = fields.Many2one("api.sync.event", required=True, ondelete="cascade", index=True)
    event_type = fields.Selection(related="event_id.event_type")
    sink_model = fields.Char(required=True)
    sink_id = fields.Many2oneReference(model_field="sink_model", required=True)
    webhook_id = fields.Many2one(
        "api.sync.webhook", compute="_compute_webhook_id", search="_search_webhook_id"
    )
    record_key = fields.Char(
        required=True, help="model,id: deliveries of one key keep their order."
    )
    payload = fields.Json(groups="api_sync.group_api_sync_manager")
    state = fields.Selection(
        [
            ("pending", "Pending"),
            ("sending", "Sending"),
            ("retry", "Retrying"),
            ("on_hold", "On Hold"),
            ("done", "Delivered"),
            ("dead", "Dead"),
        ],
        default="pending",
        required=True,
    )
    attempts = fields.Integer(default=0)
    next_attempt_at = fields.Datetime(default=fields.Datetime.now, required=True)
    last_attempt_at = fields.Datetime()
    delivered_at = fields.Datetime()
    last_status = fields.Integer(string="Last HTTP Status", aggregator=False)
    last_error = fields.Char()
    response_excerpt = fields.Text()
    duration_ms = fields.Float(string="Last Duration (ms)", aggregator="avg")
    lease_until = fields.Datetime(
        readonly=True, help="While sending: claimed by one dispatcher until then."
    )
    claim_token = fields.Char(readonly=True, copy=False)

    _queue_index = models.Index(
        "(sink_model, sink_id, record_key, id) WHERE state IN ('pending', 'retry', 'sending')"
    )
    _sink_index = models.Index(
        "(sink_model, sink_id, id) WHERE state IN ('pending', 'retry', 'sending')"
    )
    _due_index = models.Index("(next_attempt_at, id) WHERE state IN ('pending', 'retry')")
    _lease_index = models.Index("(lease_until) WHERE state = 'sending'")

    def _compute_webhook_id(self):
        """The sink when it is a webhook: a plain reference, not a foreign key, so that
        deleting a sink never fights the dispatchers writing its deliveries' outcomes (the
        deliveries of a deleted sink are removed by :meth:`_gc_orphans`)."""
        webhooks = (
            self.env["api.sync.webhook"]
            .browse(d.sink_id for d in self if d.sink_model == "api.sync.webhook")
            .exists()
        )
        for delivery in self:
            webhook = webhooks.browse(delivery.sink_id)
            delivery.webhook_id = (
                delivery.sink_model == "api.sync.webhook" and webhook in webhooks and webhook
            )

    def _search_webhook_id(self, operator, value):
        Webhook = self.env["api.sync.webhook"]
        if operator == "any":  # a path like webhook_id.user_id (record rules)
            ids = Webhook.sudo().with_context(active_test=False).search(value).ids
            return [("sink_model", "=", "api.sync.webhook"), ("sink_id", "in", ids)]
        if operator not in ("in", "="):
            return NotImplemented
        if isinstance(value, str):
            ids = Webhook._search([("display_name", "ilike", value)])
        else:
            ids = [v for v in ([value] if isinstance(value, int) else value) if v]
        return [("sink_model", "=", "api.sync.webhook"), ("sink_id", "in", ids)]

    # -- holding and releasing a sink's queue --------------------------------------------------
    @api.model
    def _hold(self, sinks, best_effort=False):
        """Hold the queued deliveries of ``sinks`` (paused or disabled) until they resume.

        ``best_effort``: in a user's transaction, rows a dispatcher changed meanwhile are left
        alone (the dispatcher holds them itself when it meets a stopped sink)."""
        query = SQL(
            "UPDATE api_sync_delivery SET state = 'on_hold' WHERE sink_model = %s"
            " AND sink_id = ANY(%s) AND state IN ('pending', 'retry')",
            sinks._name,
            list(sinks.ids),
        )
        if not best_effort:
            self.env.execute_query(query)
        else:
            try:
                with self.env.cr.savepoint(flush=False):
                    self.env.cr.execute(query, log_exceptions=False)
            except (psycopg2.errors.SerializationFailure, psycopg2.errors.LockNotAvailable):
                _logger.info("%s: queued deliveries held by the dispatcher instead", sinks)
        self.invalidate_model(["state"])

    @api.model
    def _release(self, sinks):
        """Queue the held deliveries of ``sinks`` (resumed) again, due now."""
        self.env.execute_query(
            SQL(
                "UPDATE api_sync_delivery SET state = 'pending', next_attempt_at = %s"
                " WHERE sink_model = %s AND sink_id = ANY(%s) AND state = 'on_hold'",
                fields.Datetime.now(),
                sinks._name,
                list(sinks.ids),
            )
        )
        self.invalidate_model(["state", "next_attempt_at"])

    # -- dispatching ---------------------------------------------------------------------------
    @api.model
    def _claim(self, limit, lease, token):
        """Claim up to ``limit`` due queue heads for the dispatcher holding ``token``: their
        state becomes ``sending`` until ``lease`` (a datetime). Returns the claimed ids.

        A queue (sink + record key) is claimable when its first unfinished delivery is due,
        or is ``sending`` with an expired lease (its dispatcher died: sent again, same
        ``webhook-id``). Each sink gets at most ``_sink_concurrency()`` deliveries in flight
        (one probe when its circuit is half-open, none while open), and the sinks take turns,
        so one sink's backlog never fills a batch. The deliveries of paused or disabled sinks
        are held, those of deleted sinks removed.
        """
        now = fields.Datetime.now()
        rows = self.env.execute_query(
            SQL(
                """
            SELECT s.sink_model, s.sink_id, COALESCE(b.busy, 0),
                   COALESCE(h.open_until > %(now)s, FALSE), COALESCE(h.trips, 0) > 0
              FROM (SELECT DISTINCT sink_model, sink_id FROM api_sync_delivery d
                     WHERE %(claimable)s) AS s
              LEFT JOIN (SELECT sink_model, sink_id, count(*) AS busy FROM api_sync_delivery
                          WHERE state = 'sending' AND lease_until > %(now)s
                          GROUP BY sink_model, sink_id) AS b
                     ON b.sink_model = s.sink_model AND b.sink_id = s.sink_id
              LEFT JOIN api_sync_sink_health h
                     ON h.sink_model = s.sink_model AND h.sink_id = s.sink_id
            """,
                now=now,
                claimable=self._claimable(now),
            )
        )
        rooms = []
        sinks = self._sinks_of([(sink_model, sink_id) for sink_model, sink_id, *_r in rows])
        for sink_model, sink_id, busy, is_open, half_open in rows:
            sink = sinks[sink_model, sink_id]
            if not sink:
                self._gc_orphans(sink_model, [sink_id])
            elif not sink._sink_is_active():
                self._hold(sink)
            else:
                cap = 0 if is_open else 1 if half_open else sink._sink_concurrency()
                if cap > busy:
                    rooms.append({"sink_model": sink_model, "sink_id": sink_id, "room": cap - busy})
        if not rooms or limit <= 0:
            return []
        rows = self.env.execute_query(
            SQL(
                """
            WITH sinks AS (
                SELECT * FROM jsonb_to_recordset(%(rooms)s::jsonb)
                    AS s(sink_model varchar, sink_id int, room int)
            ), picked AS (
                SELECT c.id
                  FROM sinks s
                 CROSS JOIN LATERAL (
                       SELECT d.id, row_number() OVER (ORDER BY d.id) AS rank
                         FROM api_sync_delivery d
                        WHERE d.sink_model = s.sink_model AND d.sink_id = s.sink_id
                          AND d.state IN ('pending', 'retry', 'sending') AND %(claimable)s
                          AND NOT EXISTS (
                              SELECT 1 FROM api_sync_delivery p
                               WHERE p.state IN ('pending', 'retry', 'sending')
                                 AND p.sink_model = d.sink_model AND p.sink_id = d.sink_id
                                 AND p.record_key = d.record_key AND p.id < d.id)
                        ORDER BY d.id
                        LIMIT s.room) AS c
                 ORDER BY c.rank, c.id
                 LIMIT %(limit)s
            )
            UPDATE api_sync_delivery d
               SET state = 'sending', claim_token = %(token)s, lease_until = %(lease)s
              FROM picked
             WHERE d.id = picked.id AND %(claimable)s
         RETURNING d.id
            """,
                rooms=json.dumps(rooms),
                claimable=self._claimable(now),
                limit=limit,
                token=token,
                lease=lease,
            )
        )
        self.invalidate_model()
        return sorted(row[0] for row in rows)

    @api.model
    def _claimable(self, now):
        return SQL(
            "((d.state IN ('pending', 'retry') AND d.next_attempt_at <= %s)"
            " OR (d.state = 'sending' AND d.lease_until <= %s))",
            now,
            now,
        )

    @api.model
    def _sink_of(self, sink_model, sink_id):
        """The sink record, or an empty recordset when it (or its model) is gone."""
        if sink_model not in self.env:
            return self.env["api.sync.sink.mixin"]
        return self.env[sink_model].sudo().browse(sink_id).exists()

    @api.model
    def _sinks_of(self, keys):
        """``{(sink model, sink id): sink}`` of ``keys``, one query per model: the sink
        records share their prefetch; an empty recordset for the sinks that are gone."""
        sinks = {}
        for sink_model in {sink_model for sink_model, _id in keys}:
            ids = [sink_id for model, sink_id in keys if model == sink_model]
            if sink_model not in self.env:
                found, empty = {}, self.env["api.sync.sink.mixin"]
            else:
                empty = self.env[sink_model].sudo()
                found = {sink.id: sink for sink in empty.browse(ids).exists()}
            sinks.update(((sink_model, sink_id), found.get(sink_id, empty)) for sink_id in ids)
        return sinks

    @api.model
    def _gc_orphans(self, sink_model, sink_ids):
        """Remove the deliveries of deleted sinks, except those being sent right now (their
        outcome is dropped when it comes back)."""
        self.env.execute_query(
            SQL(
                "DELETE FROM api_sync_delivery WHERE sink_model = %s AND sink_id = ANY(%s)"
                " AND (state <> 'sending' OR lease_until <= %s)",
                sink_model,
                list(sink_ids),
                fields.Datetime.now(),
            )
        )

    def _max_attempts(self):
        return self.env["api.sync.auth"]._param("delivery_max_attempts")

    def _prepare(self):
        """``{delivery id: Request or None}`` for these claimed deliveries: the active sinks of
        each model prepare theirs at once (``_sink_prepare``), isolated from the other sinks
        (see :meth:`_isolated`); ``None``: sent through ``_sink_send``."""
        prepared = dict.fromkeys(self.ids)
        groups = self.grouped(lambda d: (d.sink_model, d.sink_id))
        sinks = self._sinks_of(list(groups))
        active = [key for key in groups if sinks[key]._sink_is_active()]  # else: _attempt

        def prepare(keys):
            union = self.browse([delivery.id for key in keys for delivery in groups[key]])
            return sinks[keys[0]].union(*(sinks[key] for key in keys))._sink_prepare(union)

        by_model = {}
        for key in active:
            by_model.setdefault(key[0], []).append(key)
        results = self._isolated(
            {model: functools.partial(prepare, keys) for model, keys in by_model.items()},
            "_sink_prepare, sent one by one",
            split=lambda: {sinks[key]: functools.partial(prepare, [key]) for key in active},
        )
        for requests_by_id in results.values():
            prepared.update(
                (delivery_id, request)
                for delivery_id, request in requests_by_id.items()
                if delivery_id in prepared
            )
        return prepared

    def _attempt(self, session):
        """Send this claimed delivery once through its sink's ``_sink_send``; returns
        ``(values, health)`` for :meth:`_record_outcomes` (see :meth:`_outcome`); ``values``
        is ``None`` when the sink was deleted (drop the delivery). Every exception is turned
        into an outcome: a sink's bug is recorded on its delivery, never raised."""
        self.ensure_one()
        sink = self._sink_of(self.sink_model, self.sink_id)
        if not sink:
            return None, None
        if not sink._sink_is_active():
            # paused or disabled since it was queued (redelivered, or claimed in between)
            return {"state": "on_hold"}, None
        attempted_at = fields.Datetime.now()
        started = time.perf_counter()
        try:
            result = self._sink_send_isolated(sink, session)
        except Exception as exc:  # noqa: BLE001 -- every failure is an outcome
            result = exc
        return self._outcome(Sent(result, (time.perf_counter() - started) * 1000, attempted_at))

    def _outcome(self, sent):
        """``(values, health)`` of the attempt ``sent``: the delivery's new column values, and
        ``(sink method, *args)`` of the health bookkeeping or ``None``."""
        result = sent.result
        values = {
            "attempts": self.attempts + 1,
            "last_attempt_at": sent.attempted_at,
            "duration_ms": sent.duration_ms,
        }
        now = sent.attempted_at
        health = None
        if isinstance(result, transport.PausingError):
            values.update(self._failure_values(result, dead=False), state="on_hold")
            health = ("_sink_pause", str(result))
        elif isinstance(result, transport.GoneError):
            values.update(self._failure_values(result, dead=True))
            health = ("_sink_gone", str(result))
        elif isinstance(result, transport.RetryableError):
            values.update(self._retry_values(result, values["attempts"], now, result.seconds))
            health = ("_sink_failed", str(result))
        elif isinstance(result, transport.DeliveryError):
            values.update(self._failure_values(result, dead=True))
            health = ("_sink_failed", str(result))
        elif isinstance(result, Exception):
            # a bug, not the receiver: counted, retried with backoff, dead after the maximum;
            # a warning, not an error: the dispatcher carries on
            _logger.warning("delivery %s: %s failed", self.id, self.sink_model, exc_info=result)
            error = transport.DeliveryError(f"{result.__class__.__name__}: {result}")
            values.update(self._retry_values(error, values["attempts"], now))
        else:
            status, excerpt = result
            values.update(
                state="done", delivered_at=now, last_status=status, last_error=None,
                response_excerpt=excerpt,
            )  # fmt: skip
            health = ("_sink_succeeded",)
        return values, health

    def _sink_send_isolated(self, sink, session):
        """``sink._sink_send``, whose failure leaves the transaction usable: rolled back in a
        sender's own cursor, a savepoint in the caller's transaction."""
        if self.env.context.get("api_sync_own_cursor"):
            try:
                return sink._sink_send(self, session)
            except Exception:
                self.env.cr.rollback()
                raise
        with self.env.cr.savepoint():
            return sink._sink_send(self, session)

    def _retry_values(self, exc, attempts, now, seconds=None):
        """Failure values of attempt number ``attempts``: retried with backoff (or after
        ``seconds``), dead after the maximum."""
        dead = attempts >= self._max_attempts()
        values = self._failure_values(exc, dead=dead)
        if not dead:
            if seconds is None:
                base = self.env["api.sync.auth"]._param("delivery_retry_base")
                seconds = transport.backoff(attempts, base=base)
            values["next_attempt_at"] = fields.Datetime.add(now, seconds=int(seconds) + 1)
        return values

    @api.model
    def _record_outcomes(self, outcomes):
        """Write ``[(delivery id, claim token, outcome)]`` in the current transaction, then the
        health of each sink once; returns how many attempts were recorded.

        ``outcome``: a :class:`Sent` or ``(values, health)`` from :meth:`_attempt`. An outcome
        is written only by the dispatcher still holding the claim (lease not expired and taken
        over, sink not deleted meanwhile)."""
        existing = {d.id: d for d in self.browse([o[0] for o in outcomes]).exists()}
        sinks = self._sinks_of(list({(d.sink_model, d.sink_id) for d in existing.values()}))
        rows, health_of = [], {}
        for delivery_id, token, outcome in outcomes:
            delivery = existing.get(delivery_id)
            if not delivery:
                continue
            values, health = delivery._outcome(outcome) if isinstance(outcome, Sent) else outcome
            sink = sinks[delivery.sink_model, delivery.sink_id]
            if values and values.get("state") == "retry" and not sink._sink_is_active():
                values = {**values, "state": "on_hold"}
            rows.append((delivery_id, token, values))
            health_of[delivery_id] = (sink, health)
        written = self._write_outcomes(rows)
        self.browse(list(existing)).invalidate_recordset()
        self._apply_health(
            health_of[delivery_id]
            for delivery_id, _token, _values in rows
            if delivery_id in written and all(health_of[delivery_id])
        )
        return sum(
            1 for delivery_id, _t, values in rows if delivery_id in written and "attempts" in values
        )

    def _write_outcomes(self, rows):
        """Write ``[(id, claim token, values or None)]`` where the claim still holds, one
        statement per set of columns (``None``: delete the delivery); returns the ids updated."""
        dropped = [(delivery_id, token) for delivery_id, token, values in rows if values is None]
        if dropped:
            self.env.execute_query(
                SQL(
                    "DELETE FROM api_sync_delivery d USING unnest(%s::int[], %s::varchar[])"
                    " AS v(id, token) WHERE d.id = v.id AND d.claim_token = v.token",
                    [delivery_id for delivery_id, _t in dropped],
                    [token for _id, token in dropped],
                )
            )
        by_columns = {}
        for delivery_id, token, values in rows:
            if values is not None:
                row = {"id": delivery_id, "token": token, **values}
                by_columns.setdefault(tuple(sorted(values)), []).append(row)
        written = set()
        for columns, group in by_columns.items():
            names = [SQL.identifier(name) for name in columns]
            updated = self.env.execute_query(
                SQL(
                    """
            UPDATE api_sync_delivery d
               SET %(assignments)s, claim_token = NULL, lease_until = NULL, write_date = %(now)s
              FROM jsonb_to_recordset(%(rows)s::jsonb) AS v(id int, token varchar, %(types)s)
             WHERE d.id = v.id AND d.claim_token = v.token AND d.state = 'sending'
         RETURNING d.id
            """,
                    assignments=SQL(", ").join(SQL("%s = v.%s", n, n) for n in names),
                    now=fields.Datetime.now(),
                    rows=json.dumps(group, default=str),
                    types=SQL(", ").join(
                        SQL("%s %s", n, SQL(self._fields[name].column_type[1]))
                        for n, name in zip(names, columns, strict=True)
                    ),
                )
            )
            written.update(delivery_id for (delivery_id,) in updated)
        return written

    @api.model
    def _apply_health(self, calls):
        """Run the health bookkeeping ``[(sink, (method, *args))]`` in order, a run of
        successes of one sink counted once; a sink's failing hook undoes neither the outcomes
        nor the other sinks' bookkeeping."""
        by_sink = {}
        for sink, health in calls:
            by_sink.setdefault(sink, []).append(health)

        def bookkeeping(sink, healths):
            for health, following in zip(healths, [*healths[1:], None], strict=True):
                if not (following and health[0] == following[0] == "_sink_succeeded"):
                    method, *args = health
                    getattr(sink, method)(*args)

        self._isolated(
            {sink: functools.partial(bookkeeping, sink, h) for sink, h in by_sink.items()},
            "health bookkeeping",
        )

    @api.model
    def _isolated(self, calls, what, split=None):
        """``{key: result}`` of the ``calls`` (``{key: function}``), each sink's failure
        isolated from the others: one savepoint for all, then, only when one fails, one per
        call of ``split()`` (default: the same calls; the failing ones are logged and left
        out)."""
        try:
            with self.env.cr.savepoint():
                return {key: call() for key, call in calls.items()}
        except RETRYABLE:  # pylint: disable=catching-non-exception
            raise
        except Exception:  # noqa: BLE001 -- found and logged below, sink by sink
            _logger.info("%s: a sink failed, isolating each", what)
        if split:
            calls = split()
        results = {}
        for sink, call in calls.items():
            try:
                with self.env.cr.savepoint():
                    results[sink] = call()
            except RETRYABLE:  # pylint: disable=catching-non-exception
                raise
            except Exception:
                _logger.warning("%s: %s failed", sink, what, exc_info=True)
        return results

    @staticmethod
    def _failure_values(exc, dead):
        return {
            "state": "dead" if dead else "retry",
            "last_status": exc.status,
            "last_error": str(exc)[:256],
            "response_excerpt": exc.excerpt,
        }

    def _send_now(self):
        """Send these deliveries at once, in the current transaction, through the dispatcher's
        attempt and outcome path (the UI's *Send Test*, a connector's "push now").

        Only deliveries that are queued (pending or retrying, due or not) and head their queue
        are sent; the others are left as they are. Returns ``{id: {"state", "status",
        "duration_ms", "error"}}`` for every delivery of ``self``.
        """
        token = uuid.uuid4().hex
        lease = fields.Datetime.add(fields.Datetime.now(), seconds=self._lease_seconds())
        self.env.execute_query(
            SQL(
                """
            UPDATE api_sync_delivery d SET state = 'sending', claim_token = %s, lease_until = %s
             WHERE d.id = ANY(%s) AND d.state IN ('pending', 'retry')
               AND NOT EXISTS (
                   SELECT 1 FROM api_sync_delivery p
                    WHERE p.state IN ('pending', 'retry', 'sending')
                      AND p.sink_model = d.sink_model AND p.sink_id = d.sink_id
                      AND p.record_key = d.record_key AND p.id < d.id)
            """,
                token,
                lease,
                list(self.ids),
            )
        )
        self.invalidate_recordset()
        with requests.Session() as session:
            outcomes = [
                (delivery.id, token, delivery._attempt(session))
                for delivery in self.filtered(lambda d: d.claim_token == token)
            ]
        self._record_outcomes(outcomes)
        return {
            delivery.id: {
                "state": delivery.state,
                "status": delivery.last_status,
                "duration_ms": delivery.duration_ms,
                "error": delivery.last_error or None,
            }
            for delivery in self.exists()
        }

    @api.model
    def _lease_seconds(self):
        """How long a claim lasts: past it, a dispatcher is presumed dead and its deliveries
        are sent again. Longer than any send (10 s timeout + 10 s body budget)."""
        return self.env.context.get("api_sync_lease") or self.env["api.sync.auth"]._param(
            "delivery_lease_seconds"
        )

    # -- replay --------------------------------------------------------------------------------
    def action_redeliver(self):
        """Queue these deliveries again (dead ones included), as a fresh series of attempts."""
        self.check_access("write")
        self.write({"state": "pending", "attempts": 0, "next_attempt_at": fields.Datetime.now()})
        self.env["api.sync.dispatcher"]._trigger()

    @api.autovacuum
    def _gc_deleted_sinks(self):
        """Remove the deliveries of deleted sinks the dispatcher has not met (not due)."""
        for (sink_model,) in self.env.execute_query(
            SQL("SELECT DISTINCT sink_model FROM api_sync_delivery")
        ):
            table = sink_model in self.env and self.env[sink_model]._table
            self.env.execute_query(
                SQL(
                    "DELETE FROM api_sync_delivery d WHERE sink_model = %s AND state <> 'sending'"
                    " AND NOT EXISTS (SELECT 1 FROM %s s WHERE s.id = d.sink_id)",
                    sink_model,
                    SQL.identifier(table) if table else SQL("(SELECT NULL::int AS id)"),
                )
            )

    @api.autovacuum
    def _gc_delivered(self):
        days = self.env["api.sync.auth"]._param("delivery_retention_days")
        limit = fields.Datetime.subtract(fields.Datetime.now(), days=days)
        self.sudo().search([("state", "=", "done"), ("delivered_at", "<", limit)]).unlink()
