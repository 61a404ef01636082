"""Two dispatchers at once deliver each event exactly once (issue #4, "Done when").

A test transaction cannot commit, and ``FOR UPDATE SKIP LOCKED`` only means something between
real transactions: this test opens its own connections (``db_connect(...).cursor()``, not the
test cursor), commits a subscription and its deliveries, runs ``_dispatch_batch`` in two
threads with one real cursor each, committing like the cron does, and removes everything it
committed afterwards (``finally``), so the database is left as it was found.
"""
# pylint: disable=invalid-commit

import collections
import logging
import threading
import time
from contextlib import closing

import requests

from odoo import SUPERUSER_ID, api, fields
from odoo.orm.environments import Transaction
from odoo.sql_db import db_connect
from odoo.tests import TransactionCase, tagged

from ..tools import signing
from .receiver import WebhookReceiver

SINGLES = 100  # records with one delivery each
CHAINS = 10  # records with a create and an update (order must be kept)
_logger = logging.getLogger(__name__)

PARAMS = ("api_sync.webhook_allow_http", "api_sync.webhook_allow_private_networks")
QUIET = {"tracking_disable": True, "mail_create_nolog": True, "mail_create_nosubscribe": True}


@tagged("post_install", "-at_install")
class TestDispatchConcurrency(TransactionCase):
    def setUp(self):
        super().setUp()
        self.receiver = WebhookReceiver().start()
        self.addCleanup(self.receiver.stop)
        self.dbname = self.env.cr.dbname

    def real_env(self, cr):
        """A superuser environment on a real (committing) cursor.

        The transaction is given the test's registry: ``Environment`` would otherwise look it
        up with ``Registry(dbname)``, which waits for the registry lock the test thread holds.
        """
        cr.transaction = Transaction(self.registry)
        return api.Environment(cr, SUPERUSER_ID, {})

    # -- committed fixtures ------------------------------------------------------------------------
    def commit_fixtures(self, secret):
        """Commit settings, a subscription, events and deliveries; returns what to clean up."""
        with closing(db_connect(self.dbname).cursor()) as cr:
            env = self.real_env(cr)
            ICP = env["ir.config_parameter"]
            saved = {key: ICP.get_param(key) for key in PARAMS}
            for key in PARAMS:
                ICP.set_param(key, "True")
            cr.commit()
            created = {"params": saved}
            try:
                webhook = env["api.sync.webhook"].with_context(**QUIET).create({
                    "url": self.receiver.url(),
                    "model_name": "res.partner.industry",
                    "events": ["record.created", "record.updated"],
                    "field_names": ["name"],
                    "user_id": SUPERUSER_ID,
                    "secret": secret,
                })  # fmt: skip
                created["webhook"] = webhook.id
                vals = []
                for n in range(SINGLES):
                    vals.append(("record.created", 1_000_000 + n))
                for n in range(CHAINS):
                    vals.append(("record.created", 2_000_000 + n))
                for n in range(CHAINS):
                    vals.append(("record.updated", 2_000_000 + n))
                events = env["api.sync.event"].create([
                    {"event_type": kind, "model": "res.partner.industry", "res_id": res_id,
                     "user_id": SUPERUSER_ID, "company_id": env.company.id}
                    for kind, res_id in vals
                ])  # fmt: skip
                created["events"] = events.ids
                past = fields.Datetime.subtract(fields.Datetime.now(), minutes=1)
                deliveries = env["api.sync.delivery"].create([
                    {"event_id": event.id, "sink_model": "api.sync.webhook", "sink_id": webhook.id,
                     "record_key": f"{event.model},{event.res_id}",
                     "next_attempt_at": past,
                     "payload": {"id": f"evt_{event.id}", "event": event.event_type,
                                 "model": event.model, "record_id": event.res_id,
                                 "data": {"name": f"industry {event.res_id}"}}}
                    for event in events
                ])  # fmt: skip
                created["deliveries"] = deliveries.ids
                cr.commit()
            except Exception:
                cr.rollback()
                self.remove_fixtures(created)
                raise
        return created

    def remove_fixtures(self, created):
        with closing(db_connect(self.dbname).cursor()) as cr:
            env = self.real_env(cr)
            if created.get("webhook"):
                env["api.sync.delivery"].search([("webhook_id", "=", created["webhook"])]).unlink()
            env["api.sync.event"].browse(created.get("events", [])).exists().unlink()
            env["api.sync.webhook"].browse(created.get("webhook", [])).exists().unlink()
            ICP = env["ir.config_parameter"]
            for key, value in created["params"].items():
                ICP.set_param(key, value or False)
            cr.commit()

    # -- the dispatchers ---------------------------------------------------------------------------
    def run_dispatchers(self, count=2):
        barrier = threading.Barrier(count)
        attempted = collections.Counter()
        errors = []

        def dispatcher(name):
            with closing(db_connect(self.dbname).cursor()) as cr:
                try:
                    env = self.real_env(cr)
                    barrier.wait(30)
                    with requests.Session() as session:
                        while True:
                            done = env["api.sync.dispatcher"]._dispatch_batch(session)
                            cr.commit()
                            attempted[name] += done
                            if not done:
                                break
                except Exception as exc:  # noqa: BLE001 -- reported by the test
                    errors.append(f"{name}: {exc!r}")
                    cr.rollback()

        threads = [
            threading.Thread(target=dispatcher, args=(f"d{n}",), daemon=True) for n in range(count)
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 120
        for thread in threads:
            thread.join(max(deadline - time.monotonic(), 0))
        self.assertFalse([t for t in threads if t.is_alive()], "the dispatchers never hang")
        return attempted, errors

    def test_two_dispatchers_deliver_each_event_once(self):
        secret = signing.new_secret()
        self.receiver.reset(secret=secret)
        created = self.commit_fixtures(secret)
        try:
            attempted, errors = self.run_dispatchers(2)
            with closing(db_connect(self.dbname).cursor()) as cr:
                cr.execute(
                    "SELECT state, attempts, count(*) FROM api_sync_delivery WHERE sink_id = %s"
                    " GROUP BY state, attempts",
                    [created["webhook"]],
                )
                states = {(state, attempts): count for state, attempts, count in cr.fetchall()}
                cr.execute(
                    "SELECT id, payload->>'id', record_key FROM api_sync_delivery"
                    " WHERE sink_id = %s ORDER BY id",
                    [created["webhook"]],
                )
                rows = cr.fetchall()
        finally:
            self.remove_fixtures(created)

        _logger.info("deliveries attempted per dispatcher: %s", dict(attempted))
        total = SINGLES + 2 * CHAINS
        self.assertEqual(errors, [])
        self.assertEqual(states, {("done", 1): total}, "every delivery done after one attempt")
        self.assertEqual(sum(attempted.values()), total, attempted)
        received = self.receiver.ids()
        self.assertTrue(all(r["problem"] is None for r in self.receiver.requests))
        duplicates = [i for i, n in collections.Counter(received).items() if n > 1]
        self.assertEqual(duplicates, [], "no event is sent twice")
        self.assertEqual(sorted(received), sorted(event_id for _id, event_id, _key in rows))
        # the create and update of one record arrive in that order
        position = {event_id: index for index, event_id in enumerate(received)}
        by_key = collections.defaultdict(list)
        for _id, event_id, key in rows:
            by_key[key].append(position[event_id])
        for key, positions in by_key.items():
            self.assertEqual(positions, sorted(positions), key)
        # the database is left as found
        with closing(db_connect(self.dbname).cursor()) as cr:
            cr.execute("SELECT count(*) FROM api_sync_webhook WHERE id = %s", [created["webhook"]])
            self.assertEqual(cr.fetchone()[0], 0)
            cr.execute(
                "SELECT count(*) FROM api_sync_event WHERE id = ANY(%s)", [created["events"]]
            )
            self.assertEqual(cr.fetchone()[0], 0)
