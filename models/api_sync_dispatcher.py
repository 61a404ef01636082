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
from odoo.service.server import SLEEP_INTERVAL
from odoo.tools import SQL, config

from ..tools import delivery as transport
from .api_sync_delivery import RETRYABLE, Sent

_logger = logging.getLogger(__name__)

HEADS_PER_BATCH = 50  # inline dispatching: heads claimed per round
MAX_ROUNDS = 100
CLAIM_INTERVAL = 0.2  # seconds: how often a run with free senders looks for new work
CLAIM_LOCK = 0x61706973  # advisory lock serializing the (short) claim transactions
TRIGGER_FRESH = 2  # seconds a due trigger is trusted to have woken a cron worker
BUDGET_CAP = 50  # seconds a run claims for, at most
SEND_TAIL = 21  # seconds the sends in flight may take after that (10 s timeout + body budget)
# seconds a prefork cron worker may sleep between its watchdog ping and a job: its sleep of
# SLEEP_INTERVAL + pid % 10 s, then pid / 100 % 0.1 s
WORKER_SLEEP_MAX = SLEEP_INTERVAL + 10


def _session(local, resources):
    """The sender thread's HTTP session (closed by the run at its end)."""
    if not hasattr(local, "session"):
        local.session = requests.Session()
        resources.append(local.session)
    return local.session


def _post(session, request):
    """POST a request a sink prepared: no database work. Returns the :class:`Sent`."""
    attempted_at = fields.Datetime.now()
    started = time.perf_counter()
    try:
        result = transport.post(session, *request)
    except Exception as exc:  # noqa: BLE001 -- recorded on the delivery, whatever it is
        result = exc
    return Sent(result, (time.perf_counter() - started) * 1000, attempted_at)


def _post_prepared(request, local, resources):
    """Sender thread: a prepared request."""
    return _post(_session(local, resources), request)


def _send_claimed(registry, context, delivery_id, local, resources):
    """Sender thread: a delivery sent through its sink's ``_sink_send``, with the thread's own
    cursor (opened at its first such delivery, closed by the run at its end)."""
    if not hasattr(local, "env"):
        cr = registry.cursor()
        resources.append(cr)
        # the registry is given: looking it up by name would wait for the registry lock
        cr.transaction = Transaction(registry)
        local.env = api.Environment(cr, SUPERUSER_ID, {**context, "api_sync_own_cursor": True})
    env = local.env
    try:
        return env["api.sync.dispatcher"]._attempt_one(delivery_id, _session(local, resources))
    finally:
        env.invalidate_all()


class ApiSyncDispatcher(models.AbstractModel):
    """Sends queued deliveries to their sinks; kept apart from the models it moves.

    A run (the cron, :meth:`_run`) loops on one cursor of its own, in short transactions:
    record the outcomes that came back and claim due queue heads (``sending`` + a lease + a
    claim token, see ``api.sync.delivery._claim``) in one transaction; let each sink prepare
    its claimed batch in another (``_sink_prepare``: one read of the batch's records, signed
    requests); then hand the deliveries to a bounded pool of sender threads. A prepared
    request is a plain POST: its thread holds no database connection. The others go through
    the sink's ``_sink_send`` with the thread's own cursor. No lock and no open transaction is
    held while waiting on the network; outcomes are guarded by the claim token. Threads rather
    than several cron lanes: one run keeps ``dispatch_senders`` requests in flight whatever
    the number of cron workers, and a slow sink occupies at most its ``_sink_concurrency()``.

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

        Only a trigger that was due when it was inserted woke the cron workers (``ir.cron``
        notifies them for those alone; they poll once a minute otherwise), so only such a
        trigger is trusted: one planned for later (a retry, ``_schedule_next``) or inserted by
        ``ir.cron`` itself is not, nor one whose transaction began over a second before it was
        inserted (a harmless extra trigger). Neither is the trigger a running dispatcher was
        started by: the cron deletes it in its own transaction, which keeps it locked until the
        run ends, so a commit landing while a dispatcher finishes adds a trigger of its own. Nor
        a trigger due for more than ``TRIGGER_FRESH`` seconds: no worker was free to take it.
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
            " AND call_at >= %s AND call_at <= create_date + interval '1 second'"
            " LIMIT 1 FOR KEY SHARE SKIP LOCKED",
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
                outcomes = [
                    (
                        delivery_id,
                        token,
                        _post(session, request)
                        if request
                        else Delivery.browse(delivery_id)._attempt(session),
                    )
                    for delivery_id, request in claimed._prepare().items()
                ]
                attempted += Delivery._record_outcomes(outcomes)
        return attempted

    # -- the concurrent engine (cron) ------------------------------------------------------------
    @api.model
    def _cron_dispatch(self):
        """Cron entry point: one run, then hand over through a trigger (``_schedule_next``).

        A run stops when nothing is claimable or when its time budget is spent. Work left then
        is not reported to ``ir.cron`` as remaining: it would call again in the same job, up to
        10 times. A cron thread's time would be spent already (the run would do nothing, and
        the job would then wait for the workers' next poll: ``ir.cron``'s own "run again"
        trigger wakes nobody); a prefork cron worker would start fresh runs past its watchdog
        (``limit_time_real_cron``), which kills it mid-send. The trigger added instead wakes a
        worker at once, this one included, which starts a fresh run with a fresh budget."""
        processed = self._run(self._deadline())
        self.env["ir.cron"]._commit_progress(processed, remaining=0)
        self._schedule_next()

    @api.model
    def _deadline(self):
        """When a run stops claiming (a ``time.time()``): half of the time Odoo surely allows
        the job, at most ``BUDGET_CAP`` s; the sends in flight then take at most ``SEND_TAIL``
        s more.

        The limit is ``limit_time_real_cron`` (else ``limit_time_real``). A cron thread's
        counts from the thread's ``start_time``. A prefork cron worker's watchdog counts from
        its last ping, which precedes its sleep: only the limit less ``WORKER_SLEEP_MAX`` is
        sure."""
        limit = self._time_limit()
        started = getattr(threading.current_thread(), "start_time", None)
        if not limit or limit <= 0:
            return (started or time.time()) + BUDGET_CAP
        if started is None:  # a prefork cron worker (or a request)
            started, limit = time.time(), max(limit - WORKER_SLEEP_MAX, 2)
        return started + min(limit * 0.5, BUDGET_CAP)

    @api.model
    def _time_limit(self):
        """Odoo's real-time limit of a cron job, in seconds (0 or less: none)."""
        if config.get("limit_time_real_cron") and config["limit_time_real_cron"] > 0:
            return config["limit_time_real_cron"]
        return config["limit_time_real"]

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
        local, resources, in_flight, outcomes = threading.local(), [], {}, []
        processed, last_claim, last_cycle, more_waiting = 0, 0.0, 0.0, False
        # a cycle (record + claim + prepare) costs a few statements whatever its size: under
        # load, wait for a quarter of the senders to come back (at most CLAIM_INTERVAL)
        batch = max(senders // 4, 1)
        pool = ThreadPoolExecutor(senders, thread_name_prefix="api_sync_sender")
        try:
            while True:
                now = time.monotonic()
                free = senders - len(in_flight)
                claiming = (
                    free
                    and time.time() < deadline
                    and (not in_flight or more_waiting or now - last_claim >= CLAIM_INTERVAL)
                )
                if (outcomes or claiming) and (
                    not in_flight or len(outcomes) >= batch or now - last_cycle >= CLAIM_INTERVAL
                ):
                    last_cycle, token = now, uuid.uuid4().hex
                    recorded, claimed = self._record_and_claim(
                        outcomes, free if claiming else 0, token
                    )
                    processed, outcomes = processed + recorded, []
                    if claiming:
                        last_claim, more_waiting = now, len(claimed) == free
                    for delivery_id, request in self._prepare_committed(claimed).items():
                        if request:
                            future = pool.submit(_post_prepared, request, local, resources)
                        else:
                            future = pool.submit(
                                _send_claimed, registry, context, delivery_id, local, resources
                            )
                        in_flight[future] = (delivery_id, token)
                if not in_flight:
                    break
                timeout = CLAIM_INTERVAL
                if outcomes:  # recorded at the latest CLAIM_INTERVAL after the last cycle
                    timeout = max(last_cycle + CLAIM_INTERVAL - time.monotonic(), 0.001)
                done, _pending = wait(in_flight, timeout=timeout, return_when=FIRST_COMPLETED)
                outcomes += self._collect(done, in_flight)
        finally:
            pool.shutdown(wait=True)
            outcomes += self._collect(list(in_flight), in_flight)
            try:
                if outcomes:
                    processed += self._record_and_claim(outcomes, 0, None)[0]
            finally:
                for resource in resources:
                    resource.close()
        return processed

    @api.model
    def _collect(self, done, in_flight):
        """``[(delivery id, claim token, outcome)]`` of the finished sends ``done``."""
        outcomes = []
        for future in done:
            delivery_id, token = in_flight.pop(future)
            if future.exception():
                # its outcome could not be made (no connection): sent again after its lease
                _logger.error(
                    "delivery %s: attempt failed", delivery_id, exc_info=future.exception()
                )
            else:
                outcomes.append((delivery_id, token, future.result()))
        return outcomes

    @api.model
    def _record_and_claim(self, outcomes, limit, token):
        """Record ``outcomes`` and claim up to ``limit`` deliveries for ``token``, in one short
        transaction committed at once; returns (attempts recorded, claimed ids)."""
        Delivery = self.env["api.sync.delivery"].sudo()

        def record_and_claim():
            recorded = Delivery._record_outcomes(outcomes) if outcomes else 0
            if not limit:
                return recorded, []
            self.env.cr.execute(SQL("SELECT pg_advisory_xact_lock(%s)", CLAIM_LOCK))
            lease = fields.Datetime.add(fields.Datetime.now(), seconds=Delivery._lease_seconds())
            return recorded, Delivery._claim(limit, lease, token)

        return self._short_transaction(record_and_claim)

    @api.model
    def _claim_committed(self, limit, token):
        """Claim in a short transaction of its own, committed at once; returns the ids."""
        return self._record_and_claim([], limit, token)[1]

    @api.model
    def _prepare_committed(self, ids):
        """``{delivery id: Request or None}`` of claimed deliveries (see
        ``api.sync.delivery._prepare``), in a short transaction committed before the sends."""
        if not ids:
            return {}
        Delivery = self.env["api.sync.delivery"].sudo()
        return self._short_transaction(lambda: Delivery.browse(ids)._prepare())

    @api.model
    def _attempt_one(self, delivery_id, session):
        """In a sender thread with its own cursor: attempt a claimed delivery through its
        sink's ``_sink_send``; returns ``(values, health)``, the sink's bookkeeping committed."""
        delivery = self.env["api.sync.delivery"].sudo().browse(delivery_id)
        try:
            outcome = delivery._attempt(session)
            cr = self.env.cr
            if cr._cnx.info.transaction_status != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
                cr.commit()  # pylint: disable=invalid-commit  (the sink's own bookkeeping)
        except Exception as exc:  # noqa: BLE001 -- recorded on the delivery
            self.env.cr.rollback()
            outcome = delivery._outcome(Sent(exc, 0.0, fields.Datetime.now()))
        return outcome

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
        """After a run's last commit: trigger again when work is due (a commit landing while
        the run finished, or a backlog left when its time was spent), else at the next retry
        due within a minute, or the end of an open circuit that holds queued deliveries back.

        A trigger planned for later wakes no worker when it falls due: the next poll of the
        cron workers (within a minute) takes it."""
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
                (SELECT min(h.open_until) FROM api_sync_sink_health h
                  WHERE h.open_until > %(now)s AND EXISTS (
                        SELECT 1 FROM api_sync_delivery d
                         WHERE d.state IN ('pending', 'retry')
                           AND d.sink_model = h.sink_model AND d.sink_id = h.sink_id)))
            """,
                now=now,
            )
        )
        if at and at <= fields.Datetime.add(now, seconds=60):
            cron = self.env.ref("api_sync.ir_cron_dispatch").sudo()
            cron._trigger(at=fields.Datetime.add(at, seconds=1))
