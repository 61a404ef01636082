"""Issue #7, findings 1-3: Odoo's own doors (JSON-2, call_kw) into the addon's models."""

import inspect

from odoo.tests import tagged

from .security_common import SECRET_B, SecurityHttpCase

ORM_METHODS = frozenset({"create", "write", "unlink", "copy", "read", "search_read"})


@tagged("post_install", "-at_install")
class TestSecurityRpc(SecurityHttpCase):
    def assertRefused(self, response):
        self.assertIn(response.status_code, (403, 404, 422), response.text)
        self.assertNotIn(SECRET_B, response.text)

    # -- finding 1 -------------------------------------------------------------------------------
    def test_signing_key_rotation_needs_an_administrator(self):
        before = self.state_of_b()
        token = self.login()["access_token"]
        for login in ("portal_u", "outsider_u", "api_user", "manager_a"):
            with self.subTest(login=login, door="json2"):
                self.assertRefused(
                    self.json2(login, "res.config.settings", "action_api_sync_rotate_signing_key")
                )
            with self.subTest(login=login, door="call_kw"):
                answer = self.call_kw(
                    login, "res.config.settings", "action_api_sync_rotate_signing_key", [[]]
                )
                self.assertIn("AccessError", answer["error"]["data"]["name"])
        self.assertEqual(self.state_of_b(), before)
        self.assertEqual(self.api("GET", "/auth/verify", token=token).status_code, 200)
        # control: an administrator still rotates it
        self.env["res.config.settings"].with_user(
            self.env.ref("base.user_admin")
        ).action_api_sync_rotate_signing_key()
        self.assertNotEqual(self.env["api.sync.auth"]._signing_key(), before["signing_key"])

    # -- finding 2 -------------------------------------------------------------------------------
    def test_monitoring_records_of_another_company_are_invisible(self):
        for model, record in self.records_b.items():
            for login in ("api_user", "manager_a"):
                with self.subTest(model=model, login=login):
                    response = self.json2(login, model, "search_read", domain=[], fields=["id"])
                    self.assertEqual(response.status_code, 200, response.text)
                    self.assertNotIn(record.id, [row["id"] for row in response.json()])
                    self.assertRefused(self.json2(login, model, "read", ids=record.ids))
            with self.subTest(model=model, login="portal_u"):
                self.assertRefused(self.json2("portal_u", model, "search_read", domain=[]))

    def test_bodies_and_payloads_only_for_managers(self):
        self.assertEqual(self.api("GET", "/auth/me").status_code, 200)
        own_log = self.env["api.sync.request.log"].search([("user_id", "=", self.api_user.id)])
        self.assertEqual(own_log.company_id, self.company_a)
        for model, record, field in (
            ("api.sync.request.log", own_log, "request_body"),
            ("api.sync.request.log", own_log, "response_body"),
        ):
            with self.subTest(field=field):
                self.assertRefused(self.json2("api_user", model, "read", ids=record.ids,
                                              fields=[field]))  # fmt: skip
                response = self.json2("manager_a", model, "read", ids=record.ids, fields=[field])
                self.assertEqual(response.status_code, 200, response.text)
        for model, field in (("api.sync.delivery", "payload"), ("api.sync.event", "snapshot")):
            with self.subTest(field=field):
                self.assertRefused(
                    self.json2("api_user", model, "search_read", domain=[], fields=[field])
                )

    def test_a_manager_of_both_companies_sees_them(self):
        """Control: the record rules hide B's records, not the models."""
        self.manager_a.write({"company_ids": [(4, self.company_b.id)]})
        for model, record in self.records_b.items():
            with self.subTest(model=model):
                response = self.json2("manager_a", model, "search_read", domain=[], fields=["id"])
                self.assertIn(record.id, [row["id"] for row in response.json()])

    # -- finding 3 -------------------------------------------------------------------------------
    def test_actions_on_records_of_others_are_refused(self):
        before = self.state_of_b()
        own_session = self.env["api.sync.auth"]._open_session(
            self.api_user, None, "password", 30, None, None
        )
        for model, method, record in (
            ("api.sync.session", "action_revoke", self.session_b),
            ("api.sync.client", "action_revoke_tokens", self.client_b),
            ("api.sync.client", "action_rotate_secret", self.client_b),
            ("api.sync.webhook", "action_send_test", self.webhook_b),
            ("api.sync.webhook", "action_pause", self.webhook_b),
            ("api.sync.delivery", "action_redeliver", self.delivery_b),
        ):
            for login in ("api_user", "manager_a", "portal_u"):
                with self.subTest(method=method, login=login):
                    self.assertRefused(self.json2(login, model, method, ids=record.ids))
                    answer = self.call_kw(login, model, method, [record.ids])
                    self.assertIn("error", answer)
        # a user may not even revoke its own sessions outside the API (a manager does it)
        for login in ("api_user", "portal_u"):
            with self.subTest(login=login, session="own"):
                self.assertRefused(
                    self.json2(login, "api.sync.session", "action_revoke", ids=own_session.ids)
                )
        self.assertEqual(self.state_of_b(), before)
        self.assertFalse(own_session.revoked)
        self.assertFalse(self.env["api.sync.event"].search([("event_type", "=", "ping")]))
        # control: the manager of the company revokes it
        response = self.json2("manager_a", "api.sync.session", "action_revoke", ids=own_session.ids)
        self.assertEqual(response.status_code, 200, response.text)
        own_session.invalidate_recordset()
        self.assertTrue(own_session.revoked)

    # -- the walk ------------------------------------------------------------------------------
    def _addon_models(self):
        return sorted(name for name in self.env.registry if name.startswith("api.sync."))

    def _public_methods(self):
        """{model: [public methods defined by the addon]} over every model it defines or
        extends, found in the registry: models added later are walked too."""
        found = {}
        for name in self.env.registry:
            cls = type(self.env[name])
            for klass in cls.__mro__:
                if not klass.__module__.startswith("odoo.addons.api_sync."):
                    continue
                for attr, value in vars(klass).items():
                    if attr.startswith("_") or attr in ORM_METHODS:
                        continue
                    if inspect.isfunction(value) or isinstance(value, (staticmethod, classmethod)):
                        found.setdefault(name, set()).add(attr)
        return {name: sorted(methods) for name, methods in found.items()}

    def test_walk_every_model_and_public_method(self):
        """As a portal user and as an API Sync / User of company A: every model of the addon
        (read, search, create, write, unlink) and every public method it defines, on company
        B's records; nothing of B is answered and nothing changes."""
        methods = self._public_methods()
        models = self._addon_models()
        self.assertIn("action_revoke", methods["api.sync.session"])
        self.assertIn("action_api_sync_rotate_signing_key", methods["res.config.settings"])
        before = self.state_of_b()
        counts = {
            model: self.env[model].sudo().search_count([])
            for model in models
            if not self.env[model]._abstract
        }
        walked, readable = 0, set()
        for login in ("portal_u", "api_user"):
            for model in models:
                target = self.records_b.get(model)
                ids = target.ids if target else []
                calls = [(method, {"ids": ids}) for method in methods.get(model, ())]
                if not self.env[model]._abstract:
                    calls += [
                        ("search_read", {"domain": [], "fields": []}),
                        ("read", {"ids": ids, "fields": []}),
                        ("write", {"ids": ids, "vals": {"display_name": "x"}}),
                        ("unlink", {"ids": ids}),
                        ("create", {"vals_list": [{}]}),
                    ]
                for method, body in calls:
                    with self.subTest(login=login, model=model, method=method):
                        response = self.json2(login, model, method, **body)
                        walked += 1
                        self.assertNotIn(SECRET_B, response.text)
                        if method == "search_read" and response.status_code == 200:
                            found = {row["id"] for row in response.json()}
                            self.assertFalse(found & set(ids))
                            readable.add((login, model))
                        elif method == "create" or (ids and method != "search_read"):
                            self.assertNotEqual(response.status_code, 200, response.text)
            for model in set(methods) - set(models):  # addon methods on Odoo's models
                for method in methods[model]:
                    with self.subTest(login=login, model=model, method=method):
                        response = self.json2(login, model, method, ids=[])
                        walked += 1
                        self.assertNotEqual(response.status_code, 200, response.text)
        self.assertGreater(walked, 100)
        # the doors were really open: the API user reads its own monitoring records, the
        # portal user nothing
        self.assertIn(("api_user", "api.sync.session"), readable)
        self.assertIn(("api_user", "api.sync.request.log"), readable)
        self.assertFalse({model for login, model in readable if login == "portal_u"})
        self.env.invalidate_all()
        self.assertEqual(self.state_of_b(), before)
        for model, count in counts.items():
            self.assertEqual(self.env[model].sudo().search_count([]), count, model)
