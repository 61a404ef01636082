import logging

import requests

from odoo import api, fields, models
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

HEADS_PER_BATCH = 50
FOLLOWERS_PER_HEAD = 50


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
        """Claim and send one batch; returns how many deliveries were attempted."""
        Delivery = self.env["api.sync.delivery"].sudo()
        session = session or requests.Session()
        attempted = 0
        for head in Delivery._claim_heads(HEADS_PER_BATCH):
            attempted += 1
            if not head._attempt(session):
                continue
            for follower in head._queue_followers(FOLLOWERS_PER_HEAD):
                attempted += 1
                if not follower._attempt(session):
                    break  # the rest of this queue waits behind the failed one
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
