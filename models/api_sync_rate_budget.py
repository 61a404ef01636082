import time

import psycopg2.errors

from odoo import api, fields, models
from odoo.tools import SQL

MAX_TRIES = 20


class ApiSyncRateBudget(models.Model):
    """Per-backend request budget, counted in PostgreSQL so it holds across workers and
    servers: at most ``limit`` requests per ``window`` seconds, and none before
    ``blocked_until`` after the backend answered 429.

    Counted in its own short transaction (a cursor of its own), so a sender never keeps the
    row locked while it waits on the network.
    """

    _name = "api.sync.rate.budget"
    _description = "API Sync Rate Budget"

    backend_model = fields.Char(required=True)
    backend_id = fields.Many2oneReference(model_field="backend_model", required=True)
    window_start = fields.Float(help="Epoch seconds when the current window began.")
    used = fields.Integer(help="Requests counted in the current window.")
    blocked_until = fields.Float(help="Epoch seconds before which no request may be sent.")

    _backend_unique = models.Constraint(
        "UNIQUE(backend_model, backend_id)", "One budget per backend."
    )

    @api.model
    def _take(self, backend, n=1):
        """Count ``n`` requests to ``backend`` if its budget allows them now; returns 0 when
        they may go, else the seconds to wait before asking again (nothing is counted)."""
        limit, window = backend._rate_budget()
        if not limit:
            return 0.0
        # our window a little longer than the backend's: it starts when we count, a moment
        # before the request reaches the backend and starts the backend's window
        window += min(1.0, window * 0.01)
        return self._run(self._take_sql, backend, n, limit, window)

    @api.model
    def _block_until(self, backend, moment):
        """No request to ``backend`` before ``moment`` (epoch seconds), as a 429 asked."""
        return self._run(self._block_sql, backend, moment)

    @api.model
    def _run(self, method, backend, *args):
        for _try in range(MAX_TRIES):
            try:
                with self.env.registry.cursor() as cr:
                    return method(cr, backend, *args)
            except (psycopg2.errors.SerializationFailure, psycopg2.errors.UniqueViolation):
                continue  # a concurrent sender changed the row first: count again
        raise RuntimeError("rate budget: too many concurrent updates")

    def _ensure_row(self, cr, backend):
        cr.execute(SQL(
            """INSERT INTO api_sync_rate_budget (backend_model, backend_id, window_start, used,
                      blocked_until, create_date, write_date)
               VALUES (%s, %s, 0, 0, 0, now() at time zone 'UTC', now() at time zone 'UTC')
               ON CONFLICT (backend_model, backend_id) DO NOTHING""",
            backend._name, backend.id,
        ))  # fmt: skip

    def _take_sql(self, cr, backend, n, limit, window):
        self._ensure_row(cr, backend)
        now = time.time()
        cr.execute(SQL(
            """UPDATE api_sync_rate_budget
                  SET window_start = CASE WHEN window_start + %(window)s <= %(now)s
                                          THEN %(now)s ELSE window_start END,
                      used = CASE WHEN window_start + %(window)s <= %(now)s
                                  THEN %(n)s ELSE used + %(n)s END
                WHERE backend_model = %(model)s AND backend_id = %(id)s
                  AND blocked_until <= %(now)s
                  AND (window_start + %(window)s <= %(now)s OR used + %(n)s <= %(limit)s)
            RETURNING id""",
            window=window, now=now, n=n, limit=limit, model=backend._name, id=backend.id,
        ))  # fmt: skip
        if cr.fetchall():
            return 0.0
        cr.execute(SQL(
            """SELECT window_start, used, blocked_until FROM api_sync_rate_budget
                WHERE backend_model = %s AND backend_id = %s""",
            backend._name, backend.id,
        ))  # fmt: skip
        window_start, used, blocked_until = cr.fetchone()
        waits = [blocked_until - now]
        if used + n > limit:
            waits.append(window_start + window - now)
        return max(*waits, 0.001)

    def _block_sql(self, cr, backend, moment):
        self._ensure_row(cr, backend)
        cr.execute(SQL(
            """UPDATE api_sync_rate_budget SET blocked_until = GREATEST(blocked_until, %s)
                WHERE backend_model = %s AND backend_id = %s""",
            moment, backend._name, backend.id,
        ))  # fmt: skip
