import time

from odoo import api, fields, models
from odoo.tools import SQL

from ..tools.errors import RateLimitExceeded


class ApiSyncRateCounter(models.Model):
    """Fixed-window request counters, shared by every Odoo worker through PostgreSQL."""

    _name = "api.sync.rate.counter"
    _description = "API Sync Rate Limit Counter"
    _log_access = False

    key = fields.Char(required=True)
    window_size = fields.Integer(required=True, help="Window length in seconds.")
    bucket = fields.Integer(required=True, help="Start of the window (Unix time).")
    hits = fields.Integer(required=True, default=0)

    _key_window_bucket_unique = models.Constraint(
        "UNIQUE(key, window_size, bucket)", "Duplicate counter."
    )

    @api.model
    def _check(self, key, windows, now=None):
        """Raise :class:`RateLimitExceeded` when one more request of ``key`` would pass one of
        the ``(window_seconds, limit)`` limits of ``windows``.

        A plain read: the hit itself is counted by :meth:`_hit` at the end of the request, so
        concurrent requests of one client never wait on each other's counter row.
        """
        now = int(now or time.time())
        rows = self.env.execute_query(
            SQL(
                """
            SELECT c.window_size, c.bucket, c.hits
              FROM api_sync_rate_counter c
              JOIN unnest(%s::int[]) AS w ON c.window_size = w AND c.bucket = %s - %s %% w
             WHERE c.key = %s
            """,
                [window_size for window_size, _limit in windows],
                now,
                now,
                key,
            )
        )
        headers, exceeded = self._state(rows, windows, now, pending=1)
        if exceeded:
            limit, window_size, reset = exceeded
            raise RateLimitExceeded(
                f"Rate limit exceeded: {limit} requests per {window_size} seconds",
                {"limit": limit, "window": window_size, "reset": reset},
                headers={**headers, "Retry-After": str(max(reset - now, 1))},
            )

    @api.model
    def _hit(self, key, windows, now=None):
        """Count one request of ``key`` in each window; returns the rate-limit headers."""
        now = int(now or time.time())
        rows = self.env.execute_query(
            SQL(
                """
            INSERT INTO api_sync_rate_counter (key, window_size, bucket, hits)
            SELECT %s, w, %s - %s %% w, 1 FROM unnest(%s::int[]) AS w
            ON CONFLICT (key, window_size, bucket)
            DO UPDATE SET hits = api_sync_rate_counter.hits + 1
            RETURNING window_size, bucket, hits
            """,
                key,
                now,
                now,
                [window_size for window_size, _limit in windows],
            )
        )
        return self._state(rows, windows, now)[0]

    @staticmethod
    def _state(rows, windows, now, pending=0):
        """(headers, exceeded) of the counters ``rows`` with ``pending`` more hits.

        The longest window gives the standard ``X-RateLimit-*`` headers, a shorter one the
        ``X-RateLimit-Burst-*`` headers; ``exceeded`` is (limit, window, reset) or None.
        """
        hits_of = {window_size: (bucket, hits) for window_size, bucket, hits in rows}
        headers, over = {}, []
        for window_size, limit in sorted(windows, reverse=True):
            bucket, hits = hits_of.get(window_size, (now - now % window_size, 0))
            reset = bucket + window_size
            prefix = "X-RateLimit-" if not headers else "X-RateLimit-Burst-"
            headers[prefix + "Limit"] = str(limit)
            headers[prefix + "Remaining"] = str(max(limit - hits - pending, 0))
            headers[prefix + "Reset"] = str(reset)
            if hits + pending > limit:
                over.append((limit, window_size, reset))
        # the window that resets last is the one that decides when to come back
        return headers, max(over, key=lambda item: item[2]) if over else None

    @api.model
    def _add(self, key, window_size, delta=1, now=None, cr=None):
        """Add ``delta`` to the hits of ``key`` in the current window, atomically, on ``cr``
        (default: this environment's); returns the new count."""
        now = int(now or time.time())
        cr = cr or self.env.cr
        cr.execute(
            SQL(
                """
            INSERT INTO api_sync_rate_counter (key, window_size, bucket, hits)
            VALUES (%s, %s, %s, GREATEST(%s, 0))
            ON CONFLICT (key, window_size, bucket)
            DO UPDATE SET hits = GREATEST(api_sync_rate_counter.hits + %s, 0)
            RETURNING hits
            """,
                key,
                window_size,
                now - now % window_size,
                delta,
                delta,
            )
        )
        return cr.fetchone()[0]

    @api.autovacuum
    def _gc_counters(self):
        self.env.execute_query(
            SQL(
                "DELETE FROM api_sync_rate_counter WHERE bucket + window_size < %s",
                int(time.time()) - 60,
            )
        )
