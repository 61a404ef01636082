import logging
import time

from odoo import api, fields, models
from odoo.tools import SQL

from ..tools import delivery as transport

_logger = logging.getLogger(__name__)

PENDING_STATES = ("pending", "retry")


class ApiSyncDelivery(models.Model):
    """One event to one sink: the unit of retry, dead-lettering and replay."""

    _name = "api.sync.delivery"
    _description = "API Sync Delivery"
    _order = "id desc"

    event_id = fields.Many2one("api.sync.event", required=True, ondelete="cascade", index=True)
    event_type = fields.Selection(related="event_id.event_type")
    sink_model = fields.Char(required=True)
    sink_id = fields.Many2oneReference(model_field="sink_model", required=True)
    webhook_id = fields.Many2one("api.sync.webhook", ondelete="cascade", index=True)
    record_key = fields.Char(
        required=True, help="model,id: deliveries of one key keep their order."
    )
    payload = fields.Json()
    state = fields.Selection(
        [
            ("pending", "Pending"),
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

    _queue_index = models.Index(
        "(sink_model, sink_id, record_key, id) WHERE state IN ('pending', 'retry')"
    )
    _due_index = models.Index("(next_attempt_at, id) WHERE state IN ('pending', 'retry')")

    # -- dispatching ---------------------------------------------------------------------------
    @api.model
    def _claim_heads(self, limit):
        """Lock due deliveries that head their queue (nothing earlier pending for the same
        sink and record), skipping those other dispatchers hold."""
        rows = self.env.execute_query(
            SQL(
                """
            SELECT d.id FROM api_sync_delivery d
             WHERE d.state IN ('pending', 'retry') AND d.next_attempt_at <= %(now)s
               AND NOT EXISTS (
                   SELECT 1 FROM api_sync_delivery p
                    WHERE p.state IN ('pending', 'retry') AND p.sink_model = d.sink_model
                      AND p.sink_id = d.sink_id AND p.record_key = d.record_key AND p.id < d.id)
             ORDER BY d.id
             LIMIT %(limit)s
               FOR UPDATE SKIP LOCKED
            """,
                now=fields.Datetime.now(),
                limit=limit,
            )
        )
        return self.browse(row[0] for row in rows)

    def _queue_followers(self, limit):
        """Pending deliveries queued behind this head, in order (locked for this dispatcher)."""
        self.ensure_one()
        rows = self.env.execute_query(
            SQL(
                """
            SELECT id FROM api_sync_delivery
             WHERE state = 'pending' AND sink_model = %s AND sink_id = %s AND record_key = %s
               AND id > %s
             ORDER BY id LIMIT %s
               FOR UPDATE
            """,
                self.sink_model,
                self.sink_id,
                self.record_key,
                self.id,
                limit,
            )
        )
        return self.browse(row[0] for row in rows)

    def _max_attempts(self):
        return self.env["api.sync.auth"]._param("delivery_max_attempts")

    def _attempt(self, session):
        """Send this delivery once and record the outcome; True when delivered."""
        self.ensure_one()
        sink = self.env[self.sink_model].browse(self.sink_id).exists()
        if sink and not self._sink_is_active(sink):
            # paused or disabled since it was queued (redelivered, or claimed in between)
            self.write({"state": "on_hold"})
            return False
        now = fields.Datetime.now()
        values = {"attempts": self.attempts + 1, "last_attempt_at": now}
        started = time.perf_counter()
        try:
            if not sink:
                raise transport.DeliveryError(self.env._("The sink no longer exists"))
            status, excerpt = sink._sink_send(self, session)
        except transport.GoneError as exc:
            values.update(self._failure_values(exc, dead=True))
            sink._sink_gone(str(exc))
        except transport.RetryableError as exc:
            dead = values["attempts"] >= self._max_attempts()
            values.update(self._failure_values(exc, dead=dead))
            if not dead:
                delay = (
                    exc.seconds
                    if exc.seconds is not None
                    else transport.backoff(values["attempts"])
                )
                values["next_attempt_at"] = fields.Datetime.add(now, seconds=int(delay) + 1)
            sink._sink_failed(str(exc))
        except transport.DeliveryError as exc:
            values.update(self._failure_values(exc, dead=True))
            if sink:
                sink._sink_failed(str(exc))
        else:
            values.update(
                state="done", delivered_at=now, last_status=status, last_error=False,
                response_excerpt=excerpt,
            )  # fmt: skip
            sink._sink_succeeded()
        values["duration_ms"] = (time.perf_counter() - started) * 1000
        if values["state"] == "retry" and not self._sink_is_active(sink):
            # the failure paused or disabled the sink (it keeps failing): hold the delivery with
            # the others until the sink is resumed, instead of retrying it regardless
            values["state"] = "on_hold"
        self.write(values)
        return values["state"] == "done"

    @staticmethod
    def _sink_is_active(sink):
        return bool(sink) and ("state" not in sink._fields or sink.state == "active")

    @staticmethod
    def _failure_values(exc, dead):
        return {
            "state": "dead" if dead else "retry",
            "last_status": exc.status,
            "last_error": str(exc)[:256],
            "response_excerpt": exc.excerpt,
        }

    # -- replay --------------------------------------------------------------------------------
    def action_redeliver(self):
        """Queue these deliveries again (dead ones included), as a fresh series of attempts."""
        self.write({"state": "pending", "attempts": 0, "next_attempt_at": fields.Datetime.now()})
        self.env["api.sync.dispatcher"]._trigger()

    @api.autovacuum
    def _gc_delivered(self):
        days = self.env["api.sync.auth"]._param("delivery_retention_days")
        limit = fields.Datetime.subtract(fields.Datetime.now(), days=days)
        self.sudo().search([("state", "=", "done"), ("delivered_at", "<", limit)]).unlink()
