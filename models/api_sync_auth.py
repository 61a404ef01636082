import time

from odoo import api, fields, models
from odoo.exceptions import AccessDenied
from odoo.sql_db import Cursor
from odoo.tools import SQL

from ..tools import settings, tokens
from ..tools.errors import AuthenticationError, PermissionDenied, RateLimitExceeded
from ..tools.identity import Identity

SIGNING_KEY_PARAM = "api_sync.jwt_secret"
LOGIN_THROTTLE_WINDOW = 900
USER_GROUP = "api_sync.group_api_sync_user"


class ApiSyncAuth(models.AbstractModel):
    """Logins, token issue and rotation, and authentication of bearer tokens."""

    _name = "api.sync.auth"
    _description = "API Sync Authentication Service"

    # -- configuration -------------------------------------------------------------------------
    @api.model
    def _param(self, name):
        """The addon's setting ``name`` (``api_sync.<name>``), typed, defaults in
        ``tools/settings.py``: the one way to read a setting."""
        raw = self.env["ir.config_parameter"].sudo().get_param(f"api_sync.{name}")
        return settings.parse(name, raw)

    @api.model
    def _signing_key(self):
        return self.env["ir.config_parameter"].sudo().get_param(SIGNING_KEY_PARAM)

    @api.model
    def _init_signing_key(self):
        """Generate the database's JWT signing key if it has none (run at install)."""
        if not self._signing_key():
            self.env["ir.config_parameter"].sudo().set_param(SIGNING_KEY_PARAM, tokens.new_secret())

    @api.model
    def _rotate_signing_key(self):
        """Replace the signing key: every access token and session is revoked."""
        self.env["ir.config_parameter"].sudo().set_param(SIGNING_KEY_PARAM, tokens.new_secret())
        self.env["api.sync.session"].sudo().search([("revoked", "=", False)])._revoke(
            "signing key rotated"
        )

    @api.model
    def _user_limits(self):
        return (
            (60, self._param("rate_limit_minute")),
            (3600, self._param("rate_limit_hour")),
        )

    # -- login, refresh, logout ----------------------------------------------------------------
    @api.model
    def _login_password(self, login, password, remote_addr=None, user_agent=None):
        """Log in with an Odoo login and a password or API key; returns the token payload.

        A wrong password and the right password of a user outside the API group get the same
        answer: the API does not tell which logins exist or have which rights.
        """
        keys = [f"login:user:{login.lower()}", f"login:ip:{remote_addr}"]
        self._count_login_attempt(keys)
        try:
            auth_info = self.env["res.users"].authenticate(
                {"type": "password", "login": login, "password": password},
                {"interactive": False},
            )
            user = self.env["res.users"].browse(auth_info["uid"])
            if not user.has_group(USER_GROUP):
                raise AccessDenied()
        except AccessDenied:
            raise AuthenticationError(self.env._("Invalid username or password")) from None
        self._count_login_attempt(keys, -1)
        lifetime_days = self._param("refresh_lifetime_days")
        session = self._open_session(user, None, "password", lifetime_days, remote_addr, user_agent)
        return self._token_payload(session, self._param("token_lifetime"))

    @api.model
    def _login_client(self, identifier, secret, remote_addr=None, user_agent=None):
        """Log in with client credentials; returns the token payload."""
        keys = [f"login:client:{identifier}", f"login:ip:{remote_addr}"]
        self._count_login_attempt(keys)
        client = (
            self.env["api.sync.client"].sudo().search([("identifier", "=", identifier)], limit=1)
        )
        if not (client and client.secret_hash and tokens.same_secret(secret, client.secret_hash)):
            raise AuthenticationError(self.env._("Invalid client credentials"))
        self._count_login_attempt(keys, -1)
        if not client.user_id.active:
            raise AuthenticationError(self.env._("The client's user is archived"))
        session = self._open_session(
            client.user_id, client, "client", client.refresh_lifetime_days, remote_addr, user_agent
        )
        return self._token_payload(session, client.token_lifetime)

    @api.model
    def _refresh(self, refresh_token):
        """Exchange a refresh token for a new pair; a spent token revokes its whole family."""
        Token = self.env["api.sync.refresh.token"].sudo()
        token = Token.search([("token_hash", "=", tokens.hash_secret(refresh_token))], limit=1)
        if not token:
            raise AuthenticationError(self.env._("Invalid refresh token"))
        session = token.session_id
        if token.spent_at:

            def revoke_family(env):
                env["api.sync.session"].browse(session.id)._revoke("refresh token reused")

            error = AuthenticationError(
                self.env._("Refresh token already used: the session is revoked")
            )
            error.after_rollback = revoke_family
            raise error
        user = session.user_id
        if (
            session.state != "active"
            or not user.active
            or session.token_version != user.api_sync_token_version
        ):
            raise AuthenticationError(self.env._("Session expired or revoked"))
        if session.client_id and not session.client_id.active:
            raise AuthenticationError(self.env._("Client disabled"))
        token.spent_at = fields.Datetime.now()
        session.last_refresh_at = token.spent_at
        lifetime = session.client_id.token_lifetime or self._param("token_lifetime")
        return self._token_payload(session, lifetime)

    @api.model
    def _logout(self, identity):
        """Revoke the caller's session (the access token in use and its refresh tokens)."""
        if identity.session_id:
            self.env["api.sync.session"].sudo().browse(identity.session_id)._revoke("logout")
            return True
        return False

    @api.model
    def _open_session(self, user, client, method, lifetime_days, remote_addr, user_agent):
        return (
            self.env["api.sync.session"]
            .sudo()
            .create(
                {
                    "user_id": user.id,
                    "client_id": client.id if client else False,
                    "auth_method": method,
                    "token_version": user.sudo().api_sync_token_version,
                    "remote_addr": remote_addr,
                    "user_agent": (user_agent or "")[:256],
                    "expires_at": fields.Datetime.add(fields.Datetime.now(), days=lifetime_days),
                }
            )
        )

    @api.model
    def _token_payload(self, session, lifetime):
        refresh_token = tokens.new_secret("rt_")
        self.env["api.sync.refresh.token"].sudo().create(
            {"session_id": session.id, "token_hash": tokens.hash_secret(refresh_token)}
        )
        access_token, _exp = tokens.encode_access_token(
            self._signing_key(),
            uid=session.user_id.id,
            session_id=session.id,
            database=self.env.cr.dbname,
            lifetime=lifetime,
        )
        return {
            "access_token": access_token,
            "refresh_token": refresh_token,
            "token_type": "Bearer",
            "expires_in": lifetime,
            "user": self._user_info(session.user_id),
        }

    @api.model
    def _count_login_attempt(self, keys, delta=1):
        """Count a login attempt on each of ``keys`` *before* its credentials are evaluated
        (``delta=-1`` gives it back once they proved right); 429 past the limit.

        Each count is committed at once, in its own READ COMMITTED transaction: concurrent
        attempts queue on the counter row and each sees the others', so no more than the limit
        is ever evaluated, and a failure stays counted whatever happens to the request.
        """
        limit = self._param("login_max_failures")
        counter = self.env["api.sync.rate.counter"]
        if not isinstance(self.env.cr, Cursor):
            # a test cursor (HttpCase): every cursor shares the test's transaction, so "commit"
            # the count on this one (a savepoint), which the request's rollback then keeps
            hits = {key: counter._add(key, LOGIN_THROTTLE_WINDOW, delta) for key in keys}
            self.env.cr.commit()  # pylint: disable=invalid-commit
        else:
            with self.env.registry.cursor() as cr:
                cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                hits = {key: counter._add(key, LOGIN_THROTTLE_WINDOW, delta, cr=cr) for key in keys}
        if delta < 0:
            return
        for key, count in hits.items():
            # an IP address may be shared by several people: allow it more failures
            key_limit = limit * 5 if key.startswith("login:ip:") else limit
            if count > key_limit:
                now = int(time.time())
                raise RateLimitExceeded(
                    self.env._("Too many failed logins, try again later"),
                    headers={
                        "Retry-After": str(LOGIN_THROTTLE_WINDOW - now % LOGIN_THROTTLE_WINDOW)
                    },
                )

    # -- per-request authentication ------------------------------------------------------------
    @api.model
    def _authenticate(self, token):
        """Resolve a bearer token (our JWT, or an Odoo user API key) to an :class:`Identity`."""
        if tokens.looks_like_jwt(token):
            return self._authenticate_jwt(token)
        uid = self.env["res.users.apikeys"]._check_credentials(scope="api_sync", key=token)
        if not uid:
            raise AuthenticationError(self.env._("Invalid or expired token"))
        if not self.env["res.users"].browse(uid).has_group(USER_GROUP):
            raise PermissionDenied(self.env._("This user is not allowed to use the sync API."))
        return Identity(uid=uid, method="api_key", limits=self._user_limits())

    @api.model
    def _authenticate_jwt(self, token):
        try:
            claims = tokens.decode_access_token(
                self._signing_key(), token, database=self.env.cr.dbname
            )
        except tokens.InvalidToken as exc:
            raise AuthenticationError(str(exc)) from None
        rows = self.env.execute_query(
            SQL(
                """
            SELECT s.user_id,
                   s.revoked OR COALESCE(s.token_version, 0)
                       <> COALESCE(u.api_sync_token_version, 0),
                   s.expires_at < now() AT TIME ZONE 'UTC', u.active,
                   c.id, c.active, c.rate_limit_minute, c.rate_limit_hour
              FROM api_sync_session s
              JOIN res_users u ON u.id = s.user_id
         LEFT JOIN api_sync_client c ON c.id = s.client_id
             WHERE s.id = %s
            """,
                claims["sid"],
            )
        )
        if not rows:
            raise AuthenticationError(self.env._("Token revoked"))
        uid, revoked, expired, user_active, client_id, client_active, per_minute, per_hour = rows[0]
        if revoked or expired or str(uid) != claims["sub"]:
            raise AuthenticationError(self.env._("Token revoked"))
        if not user_active or (client_id and not client_active):
            raise AuthenticationError(self.env._("User or client disabled"))
        limits = ((60, per_minute), (3600, per_hour)) if client_id else self._user_limits()
        return Identity(
            uid=uid,
            method="jwt",
            client_id=client_id or 0,
            session_id=claims["sid"],
            expires_at=claims["exp"],
            limits=limits,
        )

    # -- introspection -------------------------------------------------------------------------
    @api.model
    def _user_info(self, user):
        return {
            "id": user.id,
            "name": user.name,
            "email": user.email or None,
            "company": {"id": user.company_id.id, "name": user.company_id.name},
        }

    @api.model
    def _describe(self, identity):
        """What ``GET /auth/me`` answers: user, company, client and allowed operations."""
        user = self.env["res.users"].sudo().browse(identity.uid)
        client = self.env["api.sync.client"].sudo().browse(identity.client_id)
        if client:
            allowed = client._allowed_operations()
        else:
            allowed = {"*": ["read", "create", "write", "delete"]}
        return {
            "user": self._user_info(user),
            "companies": [{"id": c.id, "name": c.name} for c in user.company_ids],
            "client": {"id": client.identifier, "name": client.name} if client else None,
            "auth_method": identity.method,
            "allowed_models": allowed,
        }
