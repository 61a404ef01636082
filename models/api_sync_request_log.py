from odoo import api, fields, models
from odoo.tools import SQL


class ApiSyncRequestLog(models.Model):
    _name = "api.sync.request.log"
    _description = "API Sync Request Log"
    _order = "id desc"
    _rec_name = "request_id"

    request_id = fields.Char(string="Request ID", required=True, index=True, readonly=True)
    client_id = fields.Many2one("api.sync.client", ondelete="set null", index=True, readonly=True)
    user_id = fields.Many2one("res.users", ondelete="set null", readonly=True)
    company_id = fields.Many2one(
        "res.company", ondelete="set null", index=True, readonly=True, help="The caller's company."
    )
    method = fields.Char(readonly=True)
    path = fields.Char(readonly=True)
    model = fields.Char(readonly=True, index=True)
    status = fields.Integer(string="HTTP Status", readonly=True, aggregator=False)
    status_class = fields.Selection(
        [("2xx", "Success"), ("4xx", "Client Error"), ("5xx", "Server Error")],
        compute="_compute_status_class",
        store=True,
    )
    error_code = fields.Char(readonly=True, index=True)
    duration_ms = fields.Float(string="Duration (ms)", readonly=True, aggregator="avg")
    remote_addr = fields.Char(string="IP Address", readonly=True)
    request_body = fields.Text(readonly=True, groups="api_sync.group_api_sync_manager")
    response_body = fields.Text(readonly=True, groups="api_sync.group_api_sync_manager")

    @api.depends("status")
    def _compute_status_class(self):
        for log in self:
            log.status_class = self._status_class(log.status)

    @staticmethod
    def _status_class(status):
        return "5xx" if status >= 500 else "4xx" if status >= 400 else "2xx"

    @api.model
    def _record(self, values):
        """Insert one entry with plain SQL: it is written on every API call."""
        values = {**values, "status_class": self._status_class(values["status"])}
        columns = list(values)
        self.env.execute_query(
            SQL(
                "INSERT INTO api_sync_request_log (%s, create_uid, write_uid, create_date,"
                " write_date) VALUES (%s, %s, %s, %s, %s)",
                SQL(", ").join(SQL.identifier(column) for column in columns),
                SQL(", ").join(values[column] for column in columns),
                self.env.uid,
                self.env.uid,
                fields.Datetime.now(),
                fields.Datetime.now(),
            )
        )

    @api.model
    def _cron_purge(self):
        """Delete entries older than the retention period (``api_sync.log_retention_days``)."""
        days = self.env["api.sync.auth"]._param("log_retention_days")
        limit = fields.Datetime.subtract(fields.Datetime.now(), days=days)
        self.sudo().search([("create_date", "<", limit)]).unlink()
