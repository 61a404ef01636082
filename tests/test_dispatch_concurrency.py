"""The delivery engine on real connections (issues #4 and #8, "Done when").

A test transaction cannot commit, and claims, leases and outcomes only mean something between
real transactions: these tests open their own connections (``registry.cursor()`` is a real
cursor in a ``TransactionCase``, which does not put the registry in test mode), commit
subscriptions and real record changes (the outbox queues the deliveries at commit), run
dispatchers (``_run``) in threads with one cursor each, and remove everything they committed
afterwards (``finally``), so the database is left as it was found. Waits are polls with a
deadline on what the test waits for, never a fixed sleep.
"""
# pylint: disable=invalid-commit

import collections
import logging
import statistics
import threading
import time

import requests

from odoo import SUPERUSER_ID, api, fields
from odoo.orm.environments import Transaction
from odoo.tests import TransactionCase, tagged

from ..tools import signing
from .receiver import SilentListener, WebhookReceiver

_logger = logging.getLogger(__name__)

MODEL = "res.partner.industry"
PARAMS = {
    "api_sync.webhook_allow_http": "True",
    "api_sync.webhook_allow_private_networks": "True",
    "api_sync.delivery_retry_base": "1",  # retries within seconds, not minutes
}
QUIET = {"tracking_disable": True, "mail_create_nolog": True, "mail_create_nosubscribe": True}


def wait_for(condition, timeout, message):
    """Poll ``condition`` until it is true or ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    event = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s: {message}")
        event.wait(0.05)


@tagged("post_install", "-at_install")
class TestDispatchConcurrency(TransactionCase):
    def setUp(self):
        super().setUp()
        self.receiver = WebhookReceiver().start()
        self.addCleanup(self.receiver.stop)
        self.secret = signing.new_secret()
        self.receiver.reset(secret=self.secret)
        self.created = {"webhooks": [], "records": [], "params": {}}
        with self.real_cursor() as env:
            ICP = env["ir.config_parameter"]
            for key, value in PARAMS.items():
                self.created["params"][key] = ICP.get_param(key)
                ICP.set_param(key, value)
            env.cr.commit()
        self.addCleanup(self.remove_fixtures)

    # -- real transactions -------------------------------------------------------------------------
    def real_cursor(self, context=None):
        """A superuser environment on a real (committing) connection, as a context manager.

        The transaction is given the test's registry: ``Environment`` would otherwise look it
        up with ``Registry(dbname)``, which waits for the registry lock the test thread holds.
        """
        test = self

        class _Real:
            def __enter__(self):
                self.cr = test.registry.cursor()
                self.cr.transaction = Transaction(test.registry)
                return api.Environment(self.cr, SUPERUSER_ID, context or {})

            def __exit__(self, *exc):
                self.cr.rollback()
                self.cr.close()

        return _Real()

    def add_webhook(self, env, url, **values):
        webhook = env["api.sync.webhook"].with_context(**QUIET).create({
            "url": url, "model_name": MODEL, "events": ["record.created", "record.updated"],
            "field_names": ["name"], "user_id": SUPERUSER_ID, "secret": self.secret, **values,
        })  # fmt: skip
        env.cr.commit()
        self.created["webhooks"].append(webhook.id)
        return webhook

    def add_records(self, env, count, prefix="industry"):
        records = env[MODEL].create([{"name": f"{prefix} {n}"} for n in range(count)])
        self.created["records"].extend(records.ids)
        env.cr.commit()
        return records

    def remove_fixtures(self):
        with self.real_cursor() as env:
            ids = self.created["webhooks"]
            env.cr.execute(
                "DELETE FROM api_sync_delivery WHERE sink_model = 'api.sync.webhook'"
                " AND sink_id = ANY(%s) RETURNING event_id",
                [ids],
            )
            events = [row[0] for row in env.cr.fetchall()]
            env.cr.execute("DELETE FROM api_sync_event WHERE id = ANY(%s)", [events])
            env.cr.execute(
                "DELETE FROM api_sync_sink_health WHERE sink_model = 'api.sync.webhook'"
                " AND sink_id = ANY(%s)",
                [ids],
            )
            env["api.sync.webhook"].browse(ids).exists().unlink()
            env.cr.commit()  # the webhooks are gone: deleting the records queues nothing
            env[MODEL].browse(self.created["records"]).exists().unlink()
            ICP = env["ir.config_parameter"]
            for key, value in self.created["params"].items():
                ICP.set_param(key, value or False)
            env.cr.commit()

    def deliveries(self, webhook):
        """[(id, state, attempts, webhook-id, record key, last error)] of ``webhook``, by id."""
        with self.real_cursor() as env:
            env.cr.execute(
                "SELECT id, state, attempts, payload->>'id', record_key, last_error"
                " FROM api_sync_delivery WHERE sink_model = 'api.sync.webhook' AND sink_id = %s"
                " ORDER BY id",
                [webhook.id],
            )
            return env.cr.fetchall()

    # -- dispatchers -------------------------------------------------------------------------------
    def start_dispatchers(self, count, until, senders=4, context=None, timeout=240):
        """``count`` dispatchers, each on its own connection, running ``_run`` again and
        again (as the cron does) until ``until()``; returns (threads, errors, attempts)."""
        errors, attempts = [], collections.Counter()
        barrier = threading.Barrier(count)
        deadline = time.monotonic() + timeout

        def dispatcher(name):
            idle = threading.Event()
            try:
                with self.real_cursor(context) as env:
                    barrier.wait(30)
                    Dispatcher = env["api.sync.dispatcher"]
                    while not until() and time.monotonic() < deadline:
                        done = Dispatcher._run(time.time() + 5, senders=senders)
                        attempts[name] += done
                        if not done:
                            idle.wait(0.05)  # retries not due yet: poll
            except Exception as exc:
                _logger.exception("dispatcher %s", name)
                errors.append(f"{name}: {exc!r}")

        threads = [
            threading.Thread(target=dispatcher, args=(f"d{n}",), daemon=True) for n in range(count)
        ]
        for thread in threads:
            thread.start()
        return threads, errors, attempts

    def join(self, threads, timeout=270):
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(deadline - time.monotonic(), 0))
        self.assertFalse([t for t in threads if t.is_alive()], "the dispatchers never hang")

    def assert_in_order_once(self, rows):
        """Every delivery received once (2xx), never sent again after, in commit order per
        record."""
        received = self.receiver.ids()
        duplicates = [i for i, n in collections.Counter(received).items() if n > 1]
        self.assertEqual(duplicates, [], "nothing is sent again after its 2xx")
        self.assertEqual(sorted(received), sorted(event_id for *_x, event_id, _k, _e in rows))
        with self.receiver.lock:
            accepted_at = {r["id"]: r["at"] for r in self.receiver.received}
            late = [
                r for r in self.receiver.requests
                if r["headers"].get("webhook-id") in accepted_at
                and r["at"] > accepted_at[r["headers"]["webhook-id"]]
            ]  # fmt: skip
        self.assertEqual(late, [], "no request after the 2xx")
        position = {event_id: index for index, event_id in enumerate(received)}
        by_key = collections.defaultdict(list)
        for _id, _state, _attempts, event_id, key, _error in rows:
            by_key[key].append(position[event_id])
        for key, positions in by_key.items():
            self.assertEqual(positions, sorted(positions), f"commit order of {key}")

    # -- tests -------------------------------------------------------------------------------------
    def test_four_dispatchers_2000_events_with_failures(self):
        """4 dispatchers on 4 connections, 2,000 events over 200 records, 10 % answered 500:
        all delivered, no dispatcher error, order kept per record, nothing sent twice."""
        self.receiver.fail_randomly(0.1, seed=8)
        with self.real_cursor() as env:
            webhook = self.add_webhook(env, self.receiver.url())
            records = self.add_records(env, 200)
            for round_ in range(9):  # 200 creations + 9 x 200 updates, one commit each
                for record in records:
                    record.name = f"{record.id} v{round_}"
                env.cr.commit()
        rows = self.deliveries(webhook)
        self.assertEqual(len(rows), 2000)
        started = time.monotonic()
        threads, errors, attempts = self.start_dispatchers(
            4, until=lambda: len(self.receiver.received) >= 2000
        )
        self.join(threads)
        elapsed = time.monotonic() - started
        _logger.info("2000 deliveries in %.1f s, attempts per dispatcher %s", elapsed, attempts)
        self.assertEqual(errors, [])
        rows = self.deliveries(webhook)
        self.assertEqual(collections.Counter(r[1] for r in rows), {"done": 2000})
        failed = sum(1 for r in self.receiver.requests if r["status"] == 500)
        self.assertGreater(failed, 100, "the receiver did fail some")
        self.assertEqual(sum(r[2] for r in rows), 2000 + failed, "one attempt per request")
        self.assertTrue(all(r["problem"] is None for r in self.receiver.requests))
        self.assert_in_order_once(rows)

    def test_hanging_sink_does_not_stall_a_healthy_one(self):
        """A receiver that never answers (10 s timeouts) and a healthy one: the healthy one's
        deliveries all arrive, p99 commit -> receipt under 5 s, while the other hangs."""
        with self.real_cursor() as env:
            ICP = env["ir.config_parameter"]
            self.created["params"].setdefault(
                "api_sync.sink_concurrency", ICP.get_param("api_sync.sink_concurrency")
            )
            ICP.set_param("api_sync.sink_concurrency", 8)  # the setting, for a busy machine
            env.cr.commit()
        with SilentListener() as silent, self.real_cursor() as env:
            hanging = self.add_webhook(env, silent.url())
            self.add_webhook(env, self.receiver.url())
            # both subscribe to the model: every record change goes to both
            self.add_records(env, 10, prefix="first")
            done = threading.Event()
            threads, errors, _attempts = self.start_dispatchers(1, until=done.is_set, senders=16)
            try:
                wait_for(
                    lambda: any(
                        state == "sending" for _i, state, *_rest in self.deliveries(hanging)
                    ),
                    30,
                    "the hanging sink's deliveries are in flight",
                )
                commits = {}
                for wave in range(4):  # commits while the hanging sends are in flight
                    records = self.add_records(env, 10, prefix=f"wave{wave}")
                    committed = time.time()
                    commits.update(dict.fromkeys(records.ids, committed))
                expected = 10 + 40
                wait_for(
                    lambda: len(self.receiver.received) >= expected,
                    60,
                    "the healthy receiver gets everything",
                )
            finally:
                done.set()
                self.join(threads)
        self.assertEqual(errors, [])
        gaps = sorted(
            item["at"] - commits[item["payload"]["record_id"]]
            for item in self.receiver.received
            if item["payload"]["record_id"] in commits
        )
        self.assertEqual(len(gaps), 40)
        p99 = gaps[-1]  # 40 samples: the worst one
        _logger.info(
            "healthy sink while another hangs: p50 %.3f s, p99 %.3f s",
            statistics.median(gaps),
            p99,
        )
        self.assertLess(p99, 5)
        states = collections.Counter(state for _i, state, *_rest in self.deliveries(hanging))
        self.assertNotIn("done", states, states)

    def test_dispatcher_stopped_between_sending_and_recording(self):
        """A dispatcher dies after the receiver got the delivery, before recording it: the
        delivery is sent again after its lease, with the same webhook-id, and the dead
        dispatcher's late outcome is ignored."""
        with self.real_cursor({"api_sync_lease": 1}) as env:
            webhook = self.add_webhook(env, self.receiver.url())
            self.add_records(env, 1)
            [(delivery_id, *_rest)] = self.deliveries(webhook)
            Dispatcher = env["api.sync.dispatcher"]
            token = "dead-dispatcher"
            self.assertEqual(Dispatcher._claim_committed(10, token), [delivery_id])
        # the "dead" dispatcher sends with its own cursor, then stops without recording
        with self.real_cursor({"api_sync_own_cursor": True}) as env:
            delivery = env["api.sync.delivery"].browse(delivery_id)
            with requests.Session() as session:
                values, health = delivery._attempt(session)
            self.assertEqual(values["state"], "done")
        self.assertEqual(len(self.receiver.received), 1)
        self.assertEqual(self.deliveries(webhook)[0][1], "sending")

        def lease_over():
            with self.real_cursor() as env:
                env.cr.execute(
                    "SELECT lease_until < %s FROM api_sync_delivery WHERE id = %s",
                    [fields.Datetime.now(), delivery_id],
                )
                return env.cr.fetchone()[0]

        wait_for(lease_over, 30, "the lease expires")
        threads, errors, _attempts = self.start_dispatchers(
            1, until=lambda: len(self.receiver.received) >= 2
        )
        self.join(threads)
        self.assertEqual(errors, [])
        first, second = self.receiver.received
        self.assertEqual(first["id"], second["id"], "sent again with the same webhook-id")
        [(_id, state, attempts, *_rest)] = self.deliveries(webhook)
        self.assertEqual((state, attempts), ("done", 1))
        with self.real_cursor() as env:
            late = env["api.sync.delivery"].browse(delivery_id)
            recorded = env["api.sync.dispatcher"]._short_transaction(
                lambda: late._record_outcomes([(late.id, token, (values, health))])
            )
            self.assertFalse(recorded, "the dead dispatcher's claim was taken over")

    def test_unexpected_error_in_a_sink_is_recorded(self):
        """A sink whose send raises an unexpected error (here a webhook with a broken
        authentication config: KeyError): that delivery fails and is recorded, attempt
        counted, dead after the maximum; the other sink's deliveries go on."""
        with self.real_cursor() as env:
            ICP = env["ir.config_parameter"]
            self.created["params"].setdefault(
                "api_sync.delivery_max_attempts", ICP.get_param("api_sync.delivery_max_attempts")
            )
            ICP.set_param("api_sync.delivery_max_attempts", 2)
            broken = self.add_webhook(env, self.receiver.url())
            env.cr.execute(
                "UPDATE api_sync_webhook SET auth_type = 'header', auth_config = '{}'"
                " WHERE id = %s",
                [broken.id],
            )
            healthy = self.add_webhook(env, self.receiver.url())
            self.add_records(env, 10)

        def settled():
            states = {state for _i, state, *_rest in self.deliveries(broken)}
            return len(self.receiver.received) >= 10 and states == {"dead"}

        threads, errors, _attempts = self.start_dispatchers(1, until=settled)
        self.join(threads)
        self.assertEqual(errors, [], "the dispatcher raised nothing")
        rows = self.deliveries(broken)
        self.assertEqual({(state, attempts) for _i, state, attempts, *_r in rows}, {("dead", 2)})
        self.assertEqual({error for *_r, error in rows}, {"KeyError: 'name'"})
        self.assertEqual({state for _i, state, *_r in self.deliveries(healthy)}, {"done"})
        self.assertEqual(len(self.receiver.received), 10)

    def test_delete_or_pause_a_sink_while_its_deliveries_are_in_flight(self):
        """A user's transaction that began before a dispatcher recorded outcomes deletes (or
        pauses) the sink the first time; the dispatcher drops the deleted sink's deliveries."""
        with self.real_cursor() as env:
            paused = self.add_webhook(env, self.receiver.url())
            deleted = self.add_webhook(env, self.receiver.url())
            self.add_records(env, 5)
        for webhook, action in ((paused, "pause"), (deleted, "delete")):
            with self.real_cursor() as user:
                sink = user["api.sync.webhook"].browse(webhook.id)
                self.assertEqual(sink.state, "active")  # the user's snapshot is taken
                with self.real_cursor() as env:
                    Dispatcher = env["api.sync.dispatcher"]
                    ids = Dispatcher._claim_committed(3, "t1")
                    self.assertTrue(ids)
                    with requests.Session() as session:
                        outcomes = [
                            (
                                delivery_id,
                                "t1",
                                env["api.sync.delivery"].browse(delivery_id)._attempt(session),
                            )
                            for delivery_id in ids
                        ]
                    # outcomes committed after the user's snapshot
                    Dispatcher._record_and_claim(outcomes, 0, None)
                if action == "pause":
                    sink.action_pause()
                else:
                    sink.unlink()
                user.cr.commit()
        with self.real_cursor() as env:
            env["api.sync.dispatcher"]._claim_committed(10, "t2")  # holds the paused sink's
            env["api.sync.delivery"]._gc_deleted_sinks()
            env.cr.commit()
        self.assertEqual(self.deliveries(deleted), [], "a deleted sink's deliveries are removed")
        states = collections.Counter(state for _i, state, *_r in self.deliveries(paused))
        self.assertEqual(states["sending"], 0, states)
        self.assertGreater(states["on_hold"], 0, states)
