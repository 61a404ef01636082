"""A sink raising an unexpected error: recorded on its delivery, the others go on (issue #8)."""
# pylint: disable=invalid-commit

from odoo.tests import tagged

from .dispatch_common import DispatchCase


@tagged("post_install", "-at_install")
class TestDispatchSinkErrors(DispatchCase):
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
