from odoo import fields, models

USER_GROUP = "api_sync.group_api_sync_user"


class ResUsers(models.Model):
    """A per-user token version: API Sync tokens carry the version they were issued with (on
    their session) and stop working once it changes."""

    _inherit = "res.users"

    api_sync_token_version = fields.Integer(
        default=0,
        readonly=True,
        groups="base.group_system",
        help="Bumped when the user's API Sync tokens must stop working: the API group removed, "
        "user archived, password changed, API key revoked.",
    )

    def _api_sync_bump_token_version(self):
        """Invalidate every API Sync access and refresh token of these users."""
        if self.ids:
            self.env.flush_all()
            self.env.cr.execute(
                "UPDATE res_users SET api_sync_token_version = api_sync_token_version + 1"
                " WHERE id IN %s",
                [tuple(self.ids)],
            )
            self.invalidate_recordset(["api_sync_token_version"])

    @staticmethod
    def _api_sync_api_users(env):
        group = env.ref(USER_GROUP, raise_if_not_found=False)
        return (
            set(group.sudo().with_context(active_test=False).all_user_ids.ids) if group else set()
        )

    def write(self, vals):
        watch_groups = "group_ids" in vals
        before = self._api_sync_api_users(self.env) if watch_groups else set()
        res = super().write(vals)
        bumped = set()
        if "password" in vals or vals.get("active") is False:
            bumped.update(self.ids)
        if watch_groups:
            bumped.update(before - self._api_sync_api_users(self.env))
        if bumped:
            self.browse(bumped)._api_sync_bump_token_version()
        return res


class ResGroups(models.Model):
    _inherit = "res.groups"

    def write(self, vals):
        watch = {"user_ids", "implied_ids", "all_user_ids"} & set(vals)
        Users = self.env["res.users"]
        before = Users._api_sync_api_users(self.env) if watch else set()
        res = super().write(vals)
        if watch:
            Users.browse(
                before - Users._api_sync_api_users(self.env)
            )._api_sync_bump_token_version()
        return res


class ResUsersApikeys(models.Model):
    _inherit = "res.users.apikeys"

    def _remove(self):
        users = self.sudo().user_id
        res = super()._remove()
        users._api_sync_bump_token_version()
        return res
