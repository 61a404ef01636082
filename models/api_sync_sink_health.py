from odoo import api, fields, models
from odoo.tools import SQL

BREAKER_THRESHOLD = 5  # consecutive failed attempts that open a sink's circuit
BREAKER_BASE = 10  # seconds the circuit first stays open; doubled at each new opening
BREAKER_CAP = 600


class ApiSyncSinkHealth(models.Model):
    """Health and circuit breaker of one sink, kept off the sink's own row.

    Every dispatcher updates it after each attempt with one atomic statement (UPSERT), so
    concurrent dispatchers never fail on each other's updates, and a user pausing or editing
    the sink never meets a row the dispatchers have just changed.

    Circuit: after ``BREAKER_THRESHOLD`` consecutive failures the sink is *open* until
    ``open_until`` (nothing is claimed for it); then *half-open*: one probe at a time
    (``trips > 0``). A success closes it; a failed probe opens it again for twice as long.
    """

    _name = "api.sync.sink.health"
    _description = "API Sync Sink Health"
    _log_access = False

    sink_model = fields.Char(required=True)
    sink_id = fields.Integer(required=True)
    consecutive_failures = fields.Integer(default=0, required=True)
    trips = fields.Integer(default=0, required=True, help="Openings since the last success.")
    open_until = fields.Datetime()
    last_success_at = fields.Datetime()
    last_failure_at = fields.Datetime()
    failing_since = fields.Datetime()

    _sink_unique = models.Constraint("UNIQUE(sink_model, sink_id)", "One health row per sink.")

    @api.model
    def _of(self, sinks):
        """{sink id: {column: value}} of ``sinks`` (one model)."""
        if not sinks.ids:
            return {}
        rows = self.env.execute_query_dict(
            SQL(
                "SELECT sink_id, last_success_at, failing_since, open_until, trips"
                " FROM api_sync_sink_health WHERE sink_model = %s AND sink_id = ANY(%s)",
                sinks._name,
                list(sinks.ids),
            )
        )
        return {row["sink_id"]: row for row in rows}

    @api.model
    def _set(self, sink, **values):
        self.env.execute_query(
            SQL(
                """
            INSERT INTO api_sync_sink_health (sink_model, sink_id, consecutive_failures, trips,
                   last_success_at, failing_since)
            VALUES (%(model)s, %(id)s, 0, 0, %(success)s, %(failing)s)
            ON CONFLICT (sink_model, sink_id) DO UPDATE
               SET last_success_at = EXCLUDED.last_success_at,
                   failing_since = EXCLUDED.failing_since
            """,
                model=sink._name,
                id=sink.id,
                success=values.get("last_success_at") or None,
                failing=values.get("failing_since") or None,
            )
        )

    @api.model
    def _reset(self, sinks):
        """A fresh start (sink resumed): circuit closed, not failing."""
        if sinks.ids:
            self.env.execute_query(
                SQL(
                    "UPDATE api_sync_sink_health SET consecutive_failures = 0, trips = 0,"
                    " open_until = NULL, failing_since = NULL"
                    " WHERE sink_model = %s AND sink_id = ANY(%s)",
                    sinks._name,
                    list(sinks.ids),
                )
            )

    @api.model
    def _succeeded(self, sink):
        """Close the circuit. Written at most once a second per sink while healthy: the rows
        of the busiest sinks are not rewritten by every outcome."""
        now = fields.Datetime.now()
        self.env.execute_query(
            SQL(
                """
            WITH upd AS (
                UPDATE api_sync_sink_health
                   SET last_success_at = %(now)s, failing_since = NULL, consecutive_failures = 0,
                       trips = 0, open_until = NULL
                 WHERE sink_model = %(model)s AND sink_id = %(id)s
                   AND (last_success_at IS NULL OR last_success_at < %(recent)s
                        OR failing_since IS NOT NULL OR consecutive_failures > 0 OR trips > 0)
             RETURNING 1)
            INSERT INTO api_sync_sink_health (sink_model, sink_id, consecutive_failures, trips,
                   last_success_at)
            SELECT %(model)s, %(id)s, 0, 0, %(now)s
             WHERE NOT EXISTS (SELECT 1 FROM api_sync_sink_health
                                WHERE sink_model = %(model)s AND sink_id = %(id)s)
            ON CONFLICT (sink_model, sink_id) DO NOTHING
            """,
                now=now,
                recent=fields.Datetime.subtract(now, seconds=1),
                model=sink._name,
                id=sink.id,
            )
        )

    @api.model
    def _failed(self, sink):
        """Count a failed attempt, open the circuit when due; returns ``failing_since``."""
        now = fields.Datetime.now()
        trip = SQL(
            "((h.trips > 0 AND (h.open_until IS NULL OR h.open_until <= %(now)s))"
            " OR (h.trips = 0 AND h.consecutive_failures + 1 >= %(threshold)s))",
            now=now,
            threshold=BREAKER_THRESHOLD,
        )
        [(failing_since,)] = self.env.execute_query(
            SQL(
                """
            INSERT INTO api_sync_sink_health AS h (sink_model, sink_id, consecutive_failures,
                   trips, last_failure_at, failing_since)
            VALUES (%(model)s, %(id)s, 1, 0, %(now)s, %(now)s)
            ON CONFLICT (sink_model, sink_id) DO UPDATE SET
                   consecutive_failures = CASE WHEN %(trip)s THEN 0
                                               ELSE h.consecutive_failures + 1 END,
                   open_until = CASE WHEN %(trip)s THEN %(now)s + make_interval(secs =>
                                     LEAST(%(base)s * 2 ^ h.trips, %(cap)s))
                                     ELSE h.open_until END,
                   trips = h.trips + (%(trip)s)::int,
                   last_failure_at = %(now)s,
                   failing_since = COALESCE(h.failing_since, %(now)s)
            RETURNING failing_since
            """,
                model=sink._name,
                id=sink.id,
                now=now,
                trip=trip,
                base=BREAKER_BASE,
                cap=BREAKER_CAP,
            )
        )
        return failing_since
