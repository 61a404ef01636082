import contextlib
import logging
import random
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

import psycopg2.errors
import psycopg2.extensions
import requests

from odoo import SUPERUSER_ID, api, fields, models
from odoo.orm.environments import Transaction
from odoo.tools import SQL, config

_logger = logging.getLogger(__name__)

HEADS_PER_BATCH = 50  # inline dispatching: heads claimed per round
MAX_ROUNDS = 100
CLAIM_INTERVAL = 0.2  # seconds: how often a run with free senders looks for new work
CLAIM_LOCK = 0x61706973  # advisory lock serializing the (short) claim transactions
TRIGGER_FRESH = 2  # seconds a due trigger is trusted to have woken a cron worker
BUDGET_CAP = 50  # seconds a run claims for, at most; its sends end <= 21 s later
RETRYABLE = (
    psycopg2.errors.SerializationFailure,
    psycopg2.errors.DeadlockDetected,
    psycopg2.errors.LockNotAvailable,
)


def _send_claimed(registry, context, delivery_id, token, local, resources):
    """Sender thread: attempt one claimed delivery with the thread's own cursor and HTTP
    session (opened at its first delivery, closed by the run at its end)."""
    if not hasattr(local, "env"):
        cr = registry.cursor()
        # the registry is given: looking it up by name would wait for the registry lock
        cr.transaction = Transaction(registry)
        local.env = api.Environment(cr, SUPERUSER_ID, {**context, "api_sync_own_cursor": True})
        local.session = requests.Session()
        resources.append((local.session, cr))
    env = local.env
    try:
        return env["api.sync.dispatcher"]._send_one(delivery_id, token, local.session)
    except Exception:
        env.cr.rollback()
        raise
    finally:
        env.invalidate_all()


class ApiSyncDispatcher(models.AbstractModel):
    """Sends queued deliveries to their sinks; kept apart from the models it moves.

    A run (the cron, :meth:`_run`) loops: claim due queue heads in a short transaction
    (``sending`` + a lease + a claim token, see ``api.sync.delivery._claim``), hand each to a
    bounded pool of sender threads, claim again as senders free up. A sender attempts its
    delivery with its own cursor and HTTP session, holding no lock and no open transaction
    while it waits on the network, then records the outcome in another short transaction,
    guarded by the claim token. Threads rather than several cron lanes: one run fills
    ``dispatch_senders`` connections whatever the number of cron workers, and a slow sink
    occupies at most its ``_sink_concurrency()`` of them.

    Any number of runs (cron threads, workers, servers) may share a database: claims are
    serialized by an advisory lock and run at READ COMMITTED, so they never fail on each
    other; each delivery is claimed by one run at a time; a record's deliveries to one sink
    go out one at a time, in commit order. A run that dies mid-send leaves its claims to
    expire: they are sent again (at least once, same ``webhook-id``).
    """

    _name = "api.sync.dispatcher"
    _description = "API Sync Dispatcher"

    @api.model
    def _trigger(self, pending=None):
        """Run the dispatcher as soon as the current transaction commits, unless a due trigger
        is waiting that no dispatcher has picked up yet.

        The trigger a running dispatcher was started by is locked until that run ends (the
        cron deletes it in its own transaction): it is skipped here, so a commit landing while
        a dispatcher finishes adds a trigger of its own instead of waiting for the next minute.
        So is a trigger due for more than ``TRIGGER_FRESH`` seconds: one planned for later (a
        retry) woke nobody when it fell due, and the cron workers only poll once a minute.
        ``pending=False``: the caller saw no due trigger at all, nothing to check.
        """
        cron = self.env["ir.cron"].browse(
            self.env["ir.model.data"]._xmlid_to_res_id("api_sync.ir_cron_dispatch")
        )
        if pending is False:
            cron.sudo()._trigger()
            return
        now = fields.Datetime.now()
        query = SQL(
            "SELECT 1 FROM ir_cron_trigger WHERE cron_id = %s AND call_at <= %s"
            " AND call_at >= %s LIMIT 1 FOR KEY SHARE SKIP LOCKED",
            cron.id,
            now,
            fields.Datetime.subtract(now, seconds=TRIGGER_FRESH),
        )
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(query, log_exceptions=False)
                waiting = bool(self.env.cr.fetchall())
        except psycopg2.errors.SerializationFailure:
            waiting = False  # picked up (deleted) since this transaction began
        if not waiting:
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

    # -- the concurrent engine (cron) ------------------------------------------------------------
    @api.model
    def _cron_dispatch(self):
        """Cron entry point: one run, then hand over. Work left when the time budget is spent
        is reported to ``ir.cron``, which calls again at once; a commit landing at the end,
        or a retry due soon, gets a trigger."""
        deadline = self._deadline()
        processed = self._run(deadline)
        remaining = self._due_count() if time.time() >= deadline else 0
        self.env["ir.cron"]._commit_progress(processed, remaining=remaining)
        if not remaining:
            self._schedule_next()

    @api.model
    def _deadline(self):
        """When a run stops claiming: well within Odoo's real-time limit of the thread (half
        of it, at most ``BUDGET_CAP`` s), counted from the thread's start as Odoo counts it;
        the sends in flight then take at most 21 s more (10 s timeout + 10 s body budget)."""
        budget = self.env.context.get("api_sync_budget")
        if budget is None:
            limits = [config["limit_time_real"]]
            if config.get("limit_time_real_cron") and config["limit_time_real_cron"] > 0:
                limits = [config["limit_time_real_cron"]]
            limits = [limit for limit in limits if limit and limit > 0]
            budget = min(min(limits) * 0.5, BUDGET_CAP) if limits else BUDGET_CAP
        started = getattr(threading.current_thread(), "start_time", None) or time.time()
        return started + budget

    @api.model
    def _run(self, deadline, senders=None):
        """Claim and send until nothing is claimable or ``deadline`` (``time.time()``) has
        passed, then wait for the sends in flight; returns how many were attempted.

        Commits: call it on a cursor of its own (the cron's), never in a request."""
        senders = senders or max(self.env["api.sync.auth"]._param("dispatch_senders"), 1)
        registry = self.env.registry
        context = {
            key: value for key, value in self.env.context.items() if key.startswith("api_sync_")
        }
        local, resources, futures = threading.local(), [], {}
        processed, last_claim, claimed_last, completed = 0, 0.0, False, False
        pool = ThreadPoolExecutor(senders, thread_name_prefix="api_sync_sender")
        try:
            while True:
                free = senders - len(futures)
                if (
                    free
                    and time.time() < deadline
                    and (
                        not futures
                        or claimed_last
                        or completed
                        or time.monotonic() - last_claim >= CLAIM_INTERVAL
                    )
                ):
                    last_claim = time.monotonic()
                    token = uuid.uuid4().hex
                    claimed = self._claim_committed(free, token)
                    # more may be waiting: claim again as soon as a sender frees up
                    claimed_last = len(claimed) == free
                    for delivery_id in claimed:
                        future = pool.submit(
                            _send_claimed, registry, context, delivery_id, token, local, resources
                        )
                        futures[future] = delivery_id
                if not futures:
                    break
                done, _pending = wait(futures, timeout=CLAIM_INTERVAL, return_when=FIRST_COMPLETED)
                completed = bool(done)  # a sink may have room again
                for future in done:
                    delivery_id = futures.pop(future)
                    if future.exception():
                        # its outcome could not be recorded: sent again after its lease
                        _logger.error(
                            "delivery %s: outcome not recorded", delivery_id,
                            exc_info=future.exception(),
                        )  # fmt: skip
                    else:
                        processed += future.result()
        finally:
            pool.shutdown(wait=True)
            for session, cr in resources:
                session.close()
                cr.close()
        return processed

    @api.model
    def _claim_committed(self, limit, token):
        """Claim in a short transaction of its own, committed at once; returns the ids."""
        Delivery = self.env["api.sync.delivery"].sudo()

        def claim():
            self.env.cr.execute(SQL("SELECT pg_advisory_xact_lock(%s)", CLAIM_LOCK))
            lease = fields.Datetime.add(fields.Datetime.now(), seconds=Delivery._lease_seconds())
            return Delivery._claim(limit, lease, token)

        return self._short_transaction(claim)

    @api.model
    def _send_one(self, delivery_id, token, session):
        """In a sender thread: attempt a claimed delivery, then record the outcome; returns
        1 when an attempt was made."""
        delivery = self.env["api.sync.delivery"].sudo().browse(delivery_id)
        try:
            values, health = delivery._attempt(session)
            cr = self.env.cr
            if cr._cnx.info.transaction_status != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
                cr.commit()  # pylint: disable=invalid-commit  (the sink's own bookkeeping)
        except Exception as exc:
            _logger.warning("delivery %s: attempt failed", delivery_id, exc_info=True)
            self.env.cr.rollback()
            values, health = delivery._bug_values(exc), None
        self._short_transaction(lambda: delivery._record(token, values, health))
        return int(bool(values and "attempts" in values))

    @api.model
    def _short_transaction(self, function, attempts=10):
        """Run ``function`` in a transaction of its own at READ COMMITTED and commit it;
        retried on serialization failures, deadlocks and lock timeouts.

        READ COMMITTED: each statement sees what other dispatchers committed before it, and
        an UPDATE re-checks its conditions on a row another transaction has just changed,
        instead of failing as under Odoo's REPEATABLE READ. Only the dispatcher's own
        statements run in it, all written for that."""
        cr = self.env.cr
        for attempt in range(attempts):
            if cr._cnx.info.transaction_status != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
                cr.commit()  # pylint: disable=invalid-commit  (the dispatcher's own cursor)
            try:
                cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                result = function()
                cr.commit()  # pylint: disable=invalid-commit
                return result
            except RETRYABLE:  # pylint: disable=catching-non-exception
                cr.rollback()
                if attempt == attempts - 1:
                    raise
                time.sleep(random.uniform(0, 0.01 * 2**attempt))  # let the other one finish
            finally:
                self.env.invalidate_all()
        return None

    @api.model
    def _due_count(self):
        """Queue heads due now whose sink's circuit lets them go: work for the next run."""
        now = fields.Datetime.now()
        [(count,)] = self.env.execute_query(
            SQL(
                """
            SELECT count(*) FROM api_sync_delivery d
             WHERE %(claimable)s
               AND NOT EXISTS (
                   SELECT 1 FROM api_sync_delivery p
                    WHERE p.state IN ('pending', 'retry', 'sending')
                      AND p.sink_model = d.sink_model AND p.sink_id = d.sink_id
                      AND p.record_key = d.record_key AND p.id < d.id)
               AND NOT EXISTS (
                   SELECT 1 FROM api_sync_sink_health h
                    WHERE h.sink_model = d.sink_model AND h.sink_id = d.sink_id
                      AND (h.open_until > %(now)s OR (h.trips > 0 AND EXISTS (
                           SELECT 1 FROM api_sync_delivery f
                            WHERE f.state = 'sending' AND f.lease_until > %(now)s
                              AND f.sink_model = d.sink_model AND f.sink_id = d.sink_id))))
            """,
                claimable=self.env["api.sync.delivery"]._claimable(now),
                now=now,
            )
        )
        return count

    @api.model
    def _schedule_next(self):
        """After a run's last commit: trigger again when work has become due meanwhile (a
        commit landing while the run finished), else at the next retry due within a minute
        (or the end of an open circuit)."""
        now = fields.Datetime.now()
        if self._due_count():
            self._trigger()
            return
        [(at,)] = self.env.execute_query(
            SQL(
                """
            SELECT LEAST(
                (SELECT min(next_attempt_at) FROM api_sync_delivery
                  WHERE state IN ('pending', 'retry') AND next_attempt_at > %(now)s),
                (SELECT min(lease_until) FROM api_sync_delivery
                  WHERE state = 'sending' AND lease_until > %(now)s),
                (SELECT min(open_until) FROM api_sync_sink_health WHERE open_until > %(now)s))
            """,
                now=now,
            )
        )
        if at and at <= fields.Datetime.add(now, seconds=60):
            cron = self.env.ref("api_sync.ir_cron_dispatch").sudo()
            cron._trigger(at=fields.Datetime.add(at, seconds=1))
