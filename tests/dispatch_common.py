"""Fixtures of the delivery engine's tests on real connections (issues #4 and #8).

A test transaction cannot commit, and claims, leases and outcomes only mean something between
real transactions: these tests open their own connections (``registry.cursor()`` is a real
cursor in a ``TransactionCase``, which does not put the registry in test mode), commit
subscriptions and real record changes (the outbox queues the deliveries at commit), run
dispatchers (``_run``) in threads with one cursor each, and remove everything they committed
afterwards, so the database is left as it was found. Waits are polls with a deadline on what
the test waits for, never a fixed sleep.
"""
# pylint: disable=invalid-commit

import collections
import logging
import threading
import time

from odoo import SUPERUSER_ID, api
from odoo.orm.environments import Transaction
from odoo.tests import TransactionCase

from ..tools import signing
from .receiver import WebhookReceiver

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


class DispatchCase(TransactionCase):
    """Real connections, a live receiver, dispatchers in threads; see the module docstring."""

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
