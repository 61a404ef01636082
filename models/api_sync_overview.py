from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError

from .api_sync_sink import sink_models

USER_GROUP = "api_sync.group_api_sync_user"
MANAGER_GROUP = "api_sync.group_api_sync_manager"
HOURS = 24
MAX_CARDS = 200  # per kind of sink


class ApiSyncOverview(models.AbstractModel):
    """The data of the Sync overview: one card per sink (webhook, connector backend)."""

    _name = "api.sync.overview"
    _description = "API Sync Overview"

    @api.model
    def get_cards(self):
        """Cards of the sinks the user may read: state, pending / failed / dead counts, last
        success and the pushes of the last hours (sent and failed per hour)."""
        if not self.env.user.has_group(USER_GROUP):
            raise AccessError(self.env._("The Sync overview is for API Sync users."))
        end = fields.Datetime.now().replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        start = end - timedelta(hours=HOURS)
        cards = []
        for model_name in sink_models(self.env):
            Sink = self.env[model_name]
            if not Sink.has_access("read"):
                continue
            sinks = Sink.search([], limit=MAX_CARDS)
            kind = self.env["ir.model"]._get(model_name).name
            states = dict(Sink._fields["state"]._description_selection(self.env))
            series = self._series(model_name, sinks.ids, start)
            for sink in sinks:
                cards.append(
                    {
                        "model": model_name,
                        "id": sink.id,
                        "kind": kind,
                        "name": sink.display_name,
                        "state": sink.state,
                        "state_label": states.get(sink.state, sink.state),
                        "disabled_reason": sink.disabled_reason or False,
                        "pending": sink.pending_count,
                        "failed": sink.failed_count,
                        "dead": sink.dead_count,
                        "last_success_at": self._iso(sink.last_success_at),
                        "failing_since": self._iso(sink.failing_since),
                        "series": [
                            {
                                "at": self._iso(start + timedelta(hours=hour)),
                                **series.get((sink.id, start + timedelta(hours=hour)), {}),
                            }
                            for hour in range(HOURS)
                        ],
                    }
                )
        for card in cards:
            for point in card["series"]:
                point.setdefault("done", 0)
                point.setdefault("failed", 0)
            card["sent"] = sum(point["done"] for point in card["series"])
            card["failed_recent"] = sum(point["failed"] for point in card["series"])
        return {
            "cards": cards,
            "hours": HOURS,
            "isManager": self.env.user.has_group(MANAGER_GROUP),
        }

    @api.model
    def _series(self, model_name, sink_ids, start):
        """{(sink id, hour): {"done": n, "failed": n}}: deliveries sent per hour since
        ``start``, and failed ones by the hour of their last attempt."""
        Delivery = self.env["api.sync.delivery"].with_context(tz="UTC")
        base = [("sink_model", "=", model_name), ("sink_id", "in", sink_ids)]
        series = {}
        for key, date_field, states in (
            ("done", "delivered_at", ("done",)),
            ("failed", "last_attempt_at", ("retry", "dead")),
        ):
            groups = Delivery._read_group(
                [*base, ("state", "in", states), (date_field, ">=", start)],
                ["sink_id", f"{date_field}:hour"],
                ["__count"],
            )
            for sink_id, hour, count in groups:
                series.setdefault((sink_id, hour), {})[key] = count
        return series

    @staticmethod
    def _iso(value):
        return value and value.strftime("%Y-%m-%dT%H:%M:%SZ")
