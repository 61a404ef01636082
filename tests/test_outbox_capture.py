"""The transactional outbox (issue #4, "Capture"): events are written in the transaction of the
change, at commit time (precommit), for models with an active subscription only.

In a TransactionCase nothing commits: ``self.env.cr.flush()`` runs the precommit hooks the way
a commit would, and a rolled-back savepoint discards them (odoo19-notes.md §4, §8).
"""

from odoo.tests import TransactionCase, new_test_user, tagged

from ..models.api_sync_event import PRECOMMIT_KEY


@tagged("post_install", "-at_install")
class TestOutboxCapture(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Partner = cls.env["res.partner"]
        cls.Event = cls.env["api.sync.event"]
        cls.Delivery = cls.env["api.sync.delivery"]
        cls.Webhook = cls.env["api.sync.webhook"]
        cls.owner = new_test_user(
            cls.env, login="hook_owner", groups="base.group_user,base.group_partner_manager",
            name="Hook Owner",
        )  # fmt: skip
        cls.webhook = cls._webhook(cls.owner)

    @classmethod
    def _webhook(cls, owner, **values):
        return cls.env["api.sync.webhook"].create({
            "url": "https://hooks.example.com/never-contacted",
            "model_name": "res.partner",
            "events": ["record.created", "record.updated", "record.deleted"],
            "field_names": ["name", "email", "phone"],
            "user_id": owner.id,
            "secret": "whsec_" + "A" * 32,
            **values,
        })  # fmt: skip

    def setUp(self):
        super().setUp()
        self.env.cr.flush()
        self.last_event = max(self.Event.search([]).ids, default=0)

    def commit_events(self):
        """Run the precommit hooks (what a commit does) and return the events they wrote."""
        self.env.cr.flush()
        self.env.invalidate_all()
        events = self.Event.search([("id", ">", self.last_event)], order="id")
        self.last_event = max(events.ids, default=self.last_event)
        return events

    def delivery(self, event, webhook=None):
        return self.Delivery.search(
            [("event_id", "=", event.id), ("webhook_id", "=", (webhook or self.webhook).id)]
        )

    # -- the three record events -------------------------------------------------------------------
    def test_create(self):
        partner = self.Partner.create(
            {"name": "John Doe", "email": "john@example.com", "phone": "+1234567890", "city": "X"}
        )
        self.assertFalse(self.Event.search([("id", ">", self.last_event)]), "written at commit")
        [event] = self.commit_events()
        self.assertEqual(
            (event.event_type, event.model, event.res_id),
            ("record.created", "res.partner", partner.id),
        )
        self.assertEqual(event.user_id.id, self.env.uid)
        self.assertEqual(event.company_id, self.env.company)
        delivery = self.delivery(event)
        self.assertEqual(delivery.state, "pending")
        self.assertEqual(delivery.record_key, f"res.partner,{partner.id}")
        payload = delivery.payload
        self.assertEqual(payload["id"], f"evt_{event.id}")
        self.assertEqual(payload["event"], "record.created")
        self.assertEqual(payload["record_id"], partner.id)
        self.assertEqual(payload["model"], "res.partner")
        self.assertEqual(
            payload["data"],
            {"name": "John Doe", "email": "john@example.com", "phone": "+1234567890"},
        )
        self.assertEqual(payload["changed_fields"], [])
        self.assertEqual(payload["metadata"], {"user_id": self.env.uid,
                                               "company_id": self.env.company.id,
                                               "database": self.env.cr.dbname})  # fmt: skip

    def test_write(self):
        partner = self.Partner.create({"name": "John Doe", "email": "john@example.com"})
        self.commit_events()
        partner.write({"email": "doe@example.com"})
        partner.write({"phone": "+1 555 0100"})
        [event] = self.commit_events()
        self.assertEqual(event.event_type, "record.updated")
        self.assertEqual(event.changed_fields, ["email", "phone"], "one event for the transaction")
        payload = self.delivery(event).payload
        self.assertEqual(payload["changed_fields"], ["email", "phone"])
        self.assertEqual(
            payload["data"],
            {"name": "John Doe", "email": "doe@example.com", "phone": "+1 555 0100"},
        )

    def test_unlink_sends_last_known_values(self):
        partner = self.Partner.create(
            {"name": "Gone Soon", "email": "gone@example.com", "phone": "1"}
        )
        self.commit_events()
        partner_id = partner.id
        partner.unlink()
        [event] = self.commit_events()
        self.assertEqual((event.event_type, event.res_id), ("record.deleted", partner_id))
        self.assertEqual(event.snapshot["name"], "Gone Soon")
        payload = self.delivery(event).payload
        self.assertEqual(payload["event"], "record.deleted")
        self.assertEqual(
            payload["data"], {"name": "Gone Soon", "email": "gone@example.com", "phone": "1"}
        )

    def test_one_event_per_record_and_transaction(self):
        created = self.Partner.create({"name": "New"})
        created.write({"email": "new@example.com"})
        dropped = self.Partner.create({"name": "Short-lived"})
        dropped_id = dropped.id
        dropped.unlink()
        events = self.commit_events()
        self.assertEqual(
            [(e.event_type, e.res_id) for e in events], [("record.created", created.id)]
        )
        self.assertEqual(
            self.delivery(events).payload["data"]["email"],
            "new@example.com",
            "the values at commit time",
        )
        self.assertFalse(
            self.Event.search([("res_id", "=", dropped_id), ("model", "=", "res.partner")])
        )

    def test_state_changed(self):
        admin = self.env.ref("base.user_admin")
        webhook = self._webhook(admin, model_name="account.move", field_names=["name", "state"],
                                events=["record.updated", "state.changed"])  # fmt: skip
        move = self.env["account.move"].create({"move_type": "entry"})
        self.assertEqual(move.state, "draft")
        [created] = self.commit_events()
        self.assertEqual(created.event_type, "record.created")
        self.assertFalse(self.delivery(created, webhook), "record.created is not subscribed")

        move.button_cancel()
        events = self.commit_events()
        self.assertEqual(events.mapped("event_type"), ["record.updated", "state.changed"])
        updated, changed = events
        self.assertIn("state", updated.changed_fields)
        self.assertEqual((changed.old_state, changed.new_state), ("draft", "cancel"))
        payload = self.delivery(changed, webhook).payload
        self.assertEqual(payload["event"], "state.changed")
        self.assertEqual((payload["old_state"], payload["new_state"]), ("draft", "cancel"))
        self.assertEqual(payload["data"]["state"], "cancel")
        self.assertEqual(payload["changed_fields"], ["state"])
        self.assertEqual(self.delivery(updated, webhook).payload["event"], "record.updated")

        # writing the same state again is no state change
        move.write({"state": "cancel"})
        self.assertEqual(self.commit_events().mapped("event_type"), ["record.updated"])

    # -- rolled back, untracked --------------------------------------------------------------------
    def test_rolled_back_savepoint_leaves_no_event(self):
        partner = self.Partner.create({"name": "Kept"})
        self.commit_events()
        before = self.Partner.create({"name": "Before the savepoint"})
        ghost_ids = []
        with self.assertRaises(ZeroDivisionError), self.env.cr.savepoint():
            ghost_ids.append(self.Partner.create({"name": "Ghost"}).id)
            partner.write({"email": "rolled-back@example.com"})
            partner.unlink()
            raise ZeroDivisionError("the change fails")
        events = self.commit_events()
        self.assertEqual(
            [(e.event_type, e.res_id) for e in events], [("record.created", before.id)]
        )
        self.assertFalse(self.Event.search([("res_id", "in", [*ghost_ids, partner.id]),
                                            ("model", "=", "res.partner"),
                                            ("event_type", "!=", "record.created")]))  # fmt: skip
        self.assertEqual(partner.email, False)

    def test_untracked_models_pay_nothing(self):
        self.assertNotIn("res.partner.category", self.Webhook._tracked_models())
        self.env["res.partner.category"].create({"name": "Tag"})
        self.assertNotIn(PRECOMMIT_KEY, self.env.cr.precommit.data, "nothing captured")
        self.assertFalse(self.commit_events())
        # a paused subscription does not track its model either
        self.webhook.state = "paused"
        self.assertNotIn("res.partner", self.Webhook._tracked_models())
        self.Partner.create({"name": "Unseen"})
        self.assertNotIn(PRECOMMIT_KEY, self.env.cr.precommit.data)
        self.assertFalse(self.commit_events())
        self.webhook.state = "active"
        self.Partner.create({"name": "Seen"})
        self.assertEqual(self.commit_events().mapped("event_type"), ["record.created"])

    # -- who receives what -------------------------------------------------------------------------
    def test_conditions_evaluated_at_commit_time(self):
        customers = self._webhook(self.owner, conditions=[["customer_rank", ">", 0]])
        became = self.Partner.create({"name": "Became customer", "customer_rank": 0})
        became.customer_rank = 1
        stopped = self.Partner.create({"name": "Stopped being one", "customer_rank": 1})
        stopped.customer_rank = 0
        events = self.commit_events()
        by_record = {event.res_id: event for event in events}
        self.assertEqual(set(by_record), {became.id, stopped.id})
        self.assertTrue(self.delivery(by_record[became.id], customers))
        self.assertFalse(self.delivery(by_record[stopped.id], customers))
        # the subscription without conditions gets both
        self.assertTrue(self.delivery(by_record[stopped.id]))
        self.assertTrue(self.delivery(by_record[became.id]))

        stopped.customer_rank = 2
        [event] = self.commit_events()
        self.assertTrue(self.delivery(event, customers), "matches now")

    def test_owner_who_cannot_read_gets_nothing(self):
        main = self.env.company
        other = self.env["res.company"].create({"name": "Other Company"})
        both = new_test_user(
            self.env,
            login="both_companies",
            groups="base.group_user",
            company_id=main.id,
            company_ids=[(6, 0, [main.id, other.id])],
        )
        seeing = self._webhook(both)
        hidden = self.Partner.create({"name": "Other's customer", "company_id": other.id})
        visible = self.Partner.create({"name": "Ours", "company_id": main.id})
        self.assertFalse(hidden.with_user(self.owner).has_access("read"))
        events = self.commit_events()
        by_record = {event.res_id: event for event in events}
        self.assertFalse(self.delivery(by_record[hidden.id]), "the owner cannot read it")
        self.assertTrue(self.delivery(by_record[visible.id]))
        self.assertTrue(self.delivery(by_record[hidden.id], seeing))

        hidden.write({"email": "secret@example.com"})
        [updated] = self.commit_events()
        self.assertFalse(self.delivery(updated))
        self.assertTrue(self.delivery(updated, seeing))

        hidden_id = hidden.id
        hidden.unlink()
        [deleted] = self.commit_events()
        self.assertEqual((deleted.event_type, deleted.res_id), ("record.deleted", hidden_id))
        self.assertFalse(self.delivery(deleted), "not even its last values")
        self.assertEqual(
            self.delivery(deleted, seeing).payload["data"]["email"], "secret@example.com"
        )
