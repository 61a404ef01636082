from odoo import api, models


class Base(models.AbstractModel):
    """Capture of create, write and unlink for the models that have subscriptions.

    Models without an active subscription pay one set lookup per call.
    """

    _inherit = "base"

    def _api_sync_tracked(self):
        if not self.pool.ready or self._transient or self._name.startswith("api.sync."):
            return False
        return self._name in self.env["api.sync.sink.mixin"]._tracked_models()

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        if records and self._api_sync_tracked():
            self.env["api.sync.event"]._capture(records, "created")
        return records

    def write(self, vals):
        if not (self and self._api_sync_tracked()):
            return super().write(vals)
        old_states = None
        if "state" in vals and "state" in self._fields:
            old_states = {record.id: record.state for record in self}
        result = super().write(vals)
        self.env["api.sync.event"]._capture(self, "updated", vals, old_states=old_states)
        return result

    def unlink(self):
        if not (self and self._api_sync_tracked()):
            return super().unlink()
        env = self.env(su=True)
        configs = env["api.sync.sink.mixin"]._sink_all_configs().get(self._name, ())
        sinks = [(c, env[c.sink_model].browse(c.sink_id)) for c in configs]
        names = set()
        for _config, sink in sinks:
            names.update(sink._sink_field_names())
        records = self.sudo().with_context(active_test=False).exists()
        rows = self.env["api.sync.data"].sudo()._serialize(records, sorted(names | {"id"}))
        snapshots = {row["id"]: row for row in rows}
        # which sinks' owners may read each record, decided while it still exists
        readers = {record_id: set() for record_id in records.ids}
        for config, _sink in sinks:
            for record_id in records.with_user(config.owner_id)._filtered_access("read").ids:
                readers[record_id].add((config.sink_model, config.sink_id))
        self.env["api.sync.event"]._capture(self, "deleted", snapshots=snapshots, readers=readers)
        return super().unlink()
