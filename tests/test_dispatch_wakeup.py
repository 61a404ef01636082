"""Waking the dispatcher: a commit never waits for the cron workers' next poll (issue #8).

``ir.cron`` notifies its workers only of a trigger that is due when it is inserted; a trigger
planned for later, or its own "run again" trigger, is found at their next poll (once a minute).
These tests run the real cron machinery on real connections and read the triggers it keeps.
"""
# pylint: disable=invalid-commit

import datetime
import threading
import time

from odoo import fields
from odoo.tests import tagged
from odoo.tools import SQL

from odoo.addons.base.models.ir_cron import IrCron

from ..models import api_sync_dispatcher as dispatcher
from .dispatch_common import DispatchCase

# a trigger that was due when it was inserted: ``ir.cron`` notified the workers of it
NOTIFIED = "call_at <= create_date + interval '1 second'"


@tagged("post_install", "-at_install")
class TestDispatchWakeup(DispatchCase):
    def setUp(self):
        super().setUp()
        with self.real_cursor() as env:
            self.cron = env.ref("api_sync.ir_cron_dispatch")
            env.cr.execute(
                "SELECT nextcall, lastcall, (SELECT max(id) FROM ir_cron_progress)"
                " FROM ir_cron WHERE id = %s",
                [self.cron.id],
            )
            self.saved = env.cr.fetchone()
        self.clear_triggers()  # left by the commits of earlier tests: no cron runs in tests
        self.addCleanup(self.restore_cron)

    def clear_triggers(self):
        with self.real_cursor() as env:
            env.cr.execute("DELETE FROM ir_cron_trigger WHERE cron_id = %s", [self.cron.id])
            env.cr.commit()

    def restore_cron(self):
        self.clear_triggers()
        nextcall, lastcall, last_progress = self.saved
        with self.real_cursor() as env:
            env.cr.execute(
                "UPDATE ir_cron SET nextcall = %s, lastcall = %s WHERE id = %s",
                [nextcall, lastcall, self.cron.id],
            )
            env.cr.execute("DELETE FROM ir_cron_progress WHERE id > %s", [last_progress or 0])
            env.cr.commit()

    def insert_trigger(self, call_at, inserted_at):
        with self.real_cursor() as env:
            env.cr.execute(
                "INSERT INTO ir_cron_trigger (cron_id, call_at, create_date, write_date)"
                " VALUES (%s, %s, %s, %s)",
                [self.cron.id, call_at, inserted_at, inserted_at],
            )
            env.cr.commit()

    def triggers(self, env, notified=False):
        """``call_at`` of the dispatch cron's triggers (only those ``NOTIFIED``, if asked)."""
        condition = SQL(NOTIFIED) if notified else SQL("TRUE")
        env.cr.execute(
            SQL(
                "SELECT call_at FROM ir_cron_trigger WHERE cron_id = %s AND %s ORDER BY call_at",
                self.cron.id,
                condition,
            )
        )
        return [row[0] for row in env.cr.fetchall()]

    def triggers_added_by_a_commit(self):
        """How many triggers ``_trigger`` adds, called as a commit would (then rolled back)."""
        with self.real_cursor() as env:
            before = len(self.triggers(env))
            env["api.sync.dispatcher"]._trigger()
            return len(self.triggers(env)) - before

    # -- _trigger ----------------------------------------------------------------------------------
    def test_a_trigger_that_woke_the_workers_is_trusted(self):
        with self.real_cursor() as env:
            env["ir.cron"].browse(self.cron.id)._trigger()
            env.cr.commit()
        self.assertEqual(self.triggers_added_by_a_commit(), 0)

    def test_a_planned_trigger_that_fell_due_is_not_trusted(self):
        """Planned 30 s ahead (a retry), it has just fallen due: it woke nobody, so a commit
        adds a trigger of its own instead of waiting for the workers' next poll."""
        now = fields.Datetime.now()
        self.insert_trigger(now, now - datetime.timedelta(seconds=30))
        self.assertEqual(self.triggers_added_by_a_commit(), 1)

    def test_the_trigger_of_a_running_dispatcher_is_not_trusted(self):
        """The cron deletes the triggers of a job it starts in its own transaction, open until
        the run ends: a commit landing meanwhile adds a trigger of its own."""
        with self.real_cursor() as env:
            env["ir.cron"].browse(self.cron.id)._trigger()
            env.cr.commit()
        with self.real_cursor() as cron_env:
            cron_env.cr.execute("DELETE FROM ir_cron_trigger WHERE cron_id = %s", [self.cron.id])
            self.assertEqual(self.triggers_added_by_a_commit(), 1)

    def test_a_trigger_no_worker_took_is_not_trusted(self):
        """Due and notified 5 s ago, still there: no worker was free; a commit adds one."""
        five_seconds_ago = fields.Datetime.now() - datetime.timedelta(seconds=5)
        self.insert_trigger(five_seconds_ago, five_seconds_ago)
        self.assertEqual(self.triggers_added_by_a_commit(), 1)

    # -- _schedule_next ----------------------------------------------------------------------------
    def test_an_open_circuit_plans_a_run_only_for_queued_deliveries(self):
        with self.real_cursor() as env:
            webhook = self.add_webhook(env, self.receiver.url())
            open_until = fields.Datetime.now() + datetime.timedelta(seconds=20)
            env["api.sync.sink.health"]._set(webhook)
            env.cr.execute(
                "UPDATE api_sync_sink_health SET open_until = %s, trips = 1"
                " WHERE sink_model = %s AND sink_id = %s",
                [open_until, webhook._name, webhook.id],
            )
            env.cr.commit()
            env["api.sync.dispatcher"]._schedule_next()
            self.assertEqual(self.triggers(env), [], "nothing queued: the circuit's end is moot")
            env.cr.rollback()
            self.add_records(env, 1)  # queued behind the open circuit
        self.clear_triggers()  # the commit's own
        with self.real_cursor() as env:
            env["api.sync.dispatcher"]._schedule_next()
            self.assertEqual(self.triggers(env), [open_until + datetime.timedelta(seconds=1)])

    # -- _cron_dispatch, run by ir.cron -----------------------------------------------------------
    def run_cron_job(self):
        """One job run as a cron worker does it (``IrCron._process_jobs_loop``); returns the
        number of times ``ir.cron`` called the dispatcher."""
        count = SQL("SELECT count(*) FROM ir_cron_progress WHERE cron_id = %s", self.cron.id)
        with self.registry.cursor() as cron_cr:
            cron_cr.execute(count)
            [(before,)] = cron_cr.fetchall()
            job = IrCron._acquire_one_job(cron_cr, self.cron.id)
            self.assertTrue(job, "the commit's trigger made the job ready")
            self.registry["ir.cron"]._process_job(cron_cr, job)
            cron_cr.commit()
            cron_cr.execute(count)
            [(after,)] = cron_cr.fetchall()
        return after - before  # one progress row per call

    def test_a_run_out_of_time_hands_over_to_a_fresh_run_at_once(self):
        """A run whose thread has spent its time leaves the backlog to a fresh run through a
        trigger that wakes the workers, not to ``ir.cron``'s own "run again" (taken at the next
        poll), and is called once, not again on the spent thread; the fresh run sends it all."""
        with self.real_cursor() as env:
            self.add_webhook(env, self.receiver.url())
            self.add_records(env, 3)
        thread = threading.current_thread()
        saved_start = getattr(thread, "start_time", None)
        self.addCleanup(setattr, thread, "start_time", saved_start)
        thread.start_time = time.time() - 3600  # as a cron thread that has run for an hour
        self.assertEqual(self.run_cron_job(), 1, "called once")
        self.assertEqual(self.receiver.ids(), [], "no time left to send")
        with self.real_cursor() as env:
            self.assertEqual(len(self.triggers(env, notified=True)), 1, self.triggers(env))
            self.assertIn(self.cron.id, [job["id"] for job in IrCron._get_all_ready_jobs(env.cr)])

        thread.start_time = time.time()  # the worker woken: a fresh run
        self.assertEqual(self.run_cron_job(), 1)
        self.assertEqual(len(self.receiver.ids()), 3)
        with self.real_cursor() as env:
            self.assertEqual(self.triggers(env), [], "nothing left: no trigger")

    # -- a run's time budget -----------------------------------------------------------------------
    def test_a_run_and_its_last_sends_fit_in_what_odoo_allows(self):
        """A cron thread's limit counts from its start; a prefork cron worker's watchdog from
        its last ping, before a sleep of up to ``WORKER_SLEEP_MAX`` s: with Odoo's default
        limit (120 s), the run, its last sends and that sleep fit in it."""
        Dispatcher = self.env["api.sync.dispatcher"]
        limit = Dispatcher._time_limit()
        thread = threading.current_thread()
        saved_start = getattr(thread, "start_time", None)
        self.addCleanup(setattr, thread, "start_time", saved_start)

        thread.start_time = time.time() - 5  # a cron thread, 5 s into its jobs
        thread_budget = Dispatcher._deadline() - thread.start_time
        self.assertGreater(thread_budget, 5)
        self.assertLessEqual(thread_budget + dispatcher.SEND_TAIL, limit)

        thread.start_time = None  # a prefork cron worker
        before = time.time()
        worker_budget = Dispatcher._deadline() - before
        self.assertGreater(worker_budget, 1)
        if limit >= 120:  # Odoo's default
            self.assertLessEqual(
                dispatcher.WORKER_SLEEP_MAX + worker_budget + dispatcher.SEND_TAIL, limit
            )
