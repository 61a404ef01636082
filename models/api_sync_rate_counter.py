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

    _key_window_bucket_unique = models.Constraint("UNIQUE(key, window_size, bucket)", "Duplicate counter.")

    @api.model
    def _hit(self, key, windows, *, enforce=True, now=None):
        """Count one request against ``key`` in each ``(window_seconds, limit)`` of ``windows``.

        Returns the rate-limit headers of the tightest window. With ``enforce``, raises
        :class:`RateLimitExceeded` (and the caller's rollback uncounts the hit) when a limit is
        passed.
        """
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
        limits = dict(windows)
        headers = {}
        exceeded = None
        for window_size, bucket, hits in sorted(rows, reverse=True):
            limit = limits[window_size]
            # the longest window gives the standard headers, a shorter one the burst headers
            prefix = "X-RateLimit-" if not headers else "X-RateLimit-Burst-"
            headers[prefix + "Limit"] = str(limit)
            headers[prefix + "Remaining"] = str(max(limit - hits, 0))
            headers[prefix + "Reset"] = str(bucket + window_size)
            if hits > limit and (exceeded is None or bucket + window_size > exceeded[2]):
                exceeded = (limit, window_size, bucket + window_size)
        if enforce and exceeded:
            limit, window_size, reset = exceeded
            raise RateLimitExceeded(
                f"Rate limit exceeded: {limit} requests per {window_size} seconds",
                {"limit": limit, "window": window_size, "reset": reset},
                headers={**headers, "Retry-After": str(max(reset - now, 1))},
            )
        return headers

    @api.model
    def _count(self, key, window_size, now=None):
        """Hits of ``key`` in the current window (no increment)."""
        now = int(now or time.time())
        rows = self.env.execute_query(
            SQL(
                "SELECT hits FROM api_sync_rate_counter WHERE key = %s AND window_size = %s AND bucket = %s",
                key,
                window_size,
                now - now % window_size,
            )
        )
        return rows[0][0] if rows else 0

    @api.autovacuum
    def _gc_counters(self):
        self.env.execute_query(
            SQL(
                "DELETE FROM api_sync_rate_counter WHERE bucket + window_size < %s",
                int(time.time()) - 60,
            )
        )
