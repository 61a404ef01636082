"""The HQ HTTP client against the HQ double (issue #10): login, refresh, re-login, errors."""

import threading
import time

from odoo.tests import BaseCase, tagged

from ..tools.delivery import DeliveryError, PausingError, RetryableError
from ..tools.hq_client import HqClient, TokenStore, token_expiry
from .hq_double import HqDouble


def wait_until(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        threading.Event().wait(0.05)


@tagged("post_install", "-at_install")
class TestHqClient(BaseCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.double = HqDouble().start()
        cls.addClassCleanup(cls.double.stop)

    def setUp(self):
        super().setUp()
        self.double.reset()
        self.double.access_ttl = 900
        self.double.refresh_ttl = 7 * 86400

    def client(self, pin="1234", store=None, timeout=10):
        client = HqClient(
            self.double.url,
            {"username": "manager", "pin": pin},
            tokens=store or TokenStore(f"test-{id(self)}-{time.monotonic()}"),
            timeout=timeout,
        )
        self.addCleanup(client.session.close)
        return client

    def expire_access(self, store):
        """Wait (with a deadline) until the stored access token is past its ``exp``."""
        exp, _iat = token_expiry(store.load()[0])
        wait_until(lambda: time.time() > exp)

    def test_login_once_reused(self):
        store = TokenStore("reuse")
        client = self.client(store=store)
        for _ in range(3):
            client.data("GET", "/api/v1/tenders")
        other = self.client(store=store)  # another worker sharing the store
        other.data("GET", "/api/v1/stores")
        self.assertEqual(self.double.logins, 1)
        login = self.double.calls("POST", "/auth/login")[0]
        self.assertEqual(self.double.body(login), {"username": "manager", "pin": "1234"})
        self.assertEqual(self.double.calls("GET", "/api/v1/stores")[0]["user"], "manager")

    def test_concurrent_workers_log_in_once(self):
        store = TokenStore("concurrent")
        barrier = threading.Barrier(4)
        errors = []

        def work():
            try:
                barrier.wait(5)
                self.client(store=store).data("GET", "/api/v1/tenders")
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        self.assertEqual(errors, [])
        self.assertEqual(self.double.logins, 1)

    def test_refresh_at_expiry_then_relogin_when_refused(self):
        self.double.access_ttl = 1
        store = TokenStore("expiry")
        client = self.client(store=store)
        client.data("GET", "/api/v1/tenders")
        self.expire_access(store)
        client.data("GET", "/api/v1/tenders")
        refresh = self.double.calls("POST", "/auth/refresh")
        self.assertEqual(len(refresh), 1)
        self.assertEqual(list(self.double.body(refresh[0])), ["refreshToken"])
        self.assertEqual(self.double.logins, 1)
        # the refresh token is revoked: the next renewal logs in again
        self.double.revoke_refresh_tokens()
        self.expire_access(store)
        client.data("GET", "/api/v1/tenders")
        self.assertEqual(self.double.logins, 2)
        self.assertEqual(self.double.calls("POST", "/auth/refresh")[-1]["status"], 401)
        failed = [r for r in self.double.calls("GET", "/tenders") if r["status"] != 200]
        self.assertEqual(failed, [], "no call was made with an expired token")

    def test_401_renews_the_session(self):
        store = TokenStore("401")
        client = self.client(store=store)
        client.data("GET", "/api/v1/tenders")
        self.double.secret = "rotated-" * 4  # HQ restarted with a new key: tokens no longer valid
        self.double.revoke_refresh_tokens()
        self.assertEqual(len(client.data("GET", "/api/v1/tenders")), 3)
        self.assertEqual(self.double.logins, 2)

    def test_errors(self):
        with self.assertRaisesRegex(PausingError, "HQ login refused: Invalid credentials"):
            self.client(pin="0000").data("GET", "/api/v1/tenders")
        client = self.client()
        self.double.inject("GET", "/tenders", "status", 503)
        with self.assertRaisesRegex(RetryableError, "HQ error 503"):
            client.data("GET", "/api/v1/tenders")
        self.double.inject("GET", "/tenders", "html")
        with self.assertRaisesRegex(RetryableError, "HQ answered text/html"):
            client.data("GET", "/api/v1/tenders")
        self.double.inject("POST", "/departments", "no_success")
        with self.assertRaisesRegex(RetryableError, "envelope without success") as caught:
            client.data("POST", "/api/v1/departments", json={"name": "Bakery"})
        self.assertTrue(caught.exception.ambiguous)
        with self.assertRaisesRegex(DeliveryError, "HQ error 400 .*name is required") as caught:
            client.data("POST", "/api/v1/departments", json={})
        self.assertNotIsInstance(caught.exception, RetryableError)
        self.double.manager["permissions"].remove("pos.void")
        with self.assertRaisesRegex(PausingError, "missing HQ permission pos.void"):
            client.data("PUT", "/api/v1/sales/x/void", json={})
        self.double.inject("POST", "/departments", "reset")
        with self.assertRaisesRegex(RetryableError, "connection lost") as caught:
            client.data("POST", "/api/v1/departments", json={"name": "Deli"})
        self.assertTrue(caught.exception.ambiguous)
        self.assertEqual([d["name"] for d in self.double.departments.values()], ["Bakery", "Deli"])
        unreachable = HqClient("http://127.0.0.1:9", {"username": "u", "pin": "1"})
        self.addCleanup(unreachable.session.close)
        with self.assertRaisesRegex(RetryableError, "HQ unreachable"):
            unreachable.health()
        self.assertEqual(client.health(), {"status": "ok"})

    def test_tokens_never_in_errors(self):
        client = self.client()
        client.data("GET", "/api/v1/tenders")
        access, refresh = client.tokens.load()
        self.double.inject("GET", "/tenders", "status", 500)
        with self.assertRaises(RetryableError) as caught:
            client.data("GET", "/api/v1/tenders")
        text = str(caught.exception) + caught.exception.excerpt
        self.assertNotIn(access, text)
        self.assertNotIn(refresh, text)
