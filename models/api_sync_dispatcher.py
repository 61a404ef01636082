import contextlib
import logging
import uuid

import requests

from odoo import api, fields, models
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

HEADS_PER_BATCH = 50
MAX_ROUNDS = 100


class ApiSyncDispatcher(models.AbstractModel):
    """Sends queued deliveries to their sinks; kept apart from the models it moves.

    Any number of dispatchers (cron workers of several Odoo servers) may run at once: each
    claims queue heads with ``FOR UPDATE SKIP LOCKED``, so a delivery is never sent twice at
    once, and a record's deliveries to one sink go out in commit order.
    """

    _name = "api.sync.dispatcher"
    _description = "API Sync Dispatcher"

    @api.model
    def _trigger(self, pending=None):
        """Run the dispatcher as soon as the current transaction commits.

        A due trigger that is still there (``pending``, looked up when not given) means the cron
        workers were woken and the dispatcher will run (again): then nothing is added, so a
        write with subscriptions does not pay a trigger and a wake-up each time. Should a
        running dispatcher finish between that check and the commit, the deliveries wait for
        its next minute.
        """
        cron = self.env["ir.cron"].browse(
            self.env["ir.model.data"]._xmlid_to_res_id("api_sync.ir_cron_dispatch")
        )
        if pending is None:
            pending = self.env.execute_query(
                SQL(
                    "SELECT 1 FROM ir_cron_trigger WHERE cron_id = %s AND call_at <= %s LIMIT 1",
                    cron.id,
                    fields.Datetime.now(),
                )
            )
        if not pending:
            cron.sudo()._trigger()

    @api.model
    def _dispatch_batch(self, session=None):
        """Claim, send and record in the current transaction, one delivery at a time, until
        nothing is due; returns how many deliveries were attempted."""
        Delivery = self.env["api.sync.delivery"].sudo()
        lease = fields.Datetime.add(fields.Datetime.now(), seconds=Delivery._lease_seconds())
        attempted = 0
        with contextlib.ExitStack() as stack:
            session = session or stack.enter_context(requests.Session())
            for _round in range(MAX_ROUNDS):
                token = uuid.uuid4().hex
                claimed = Delivery.browse(Delivery._claim(HEADS_PER_BATCH, lease, token))
                if not claimed:
                    break
                for delivery in claimed:
                    values, health = delivery._attempt(session)
                    attempted += bool(values and "attempts" in values)
                    delivery._record(token, values, health)
        return attempted

    @api.model
    def _cron_dispatch(self):
        """Cron entry point: send batches until the queue is empty or the time is up."""
        with requests.Session() as session:
            while True:
                attempted = self._dispatch_batch(session)
                if not attempted:
                    break
                remaining = self.env["ir.cron"]._commit_progress(attempted)
                if remaining is not None and remaining <= 0:
                    break
