"""Who is calling: the result of authenticating a request."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Identity:
    """An authenticated caller of the API.

    ``client_id`` is set for calls made with a client's token; ``session_id`` for calls made
    with an access token (JWT); ``method`` is ``jwt`` or ``api_key``.
    """

    uid: int
    method: str
    client_id: int = 0
    session_id: int = 0
    expires_at: int = 0
    limits: tuple = field(default=())

    @property
    def rate_key(self):
        """Key of the rate-limit counters: per client, else per user."""
        return f"client:{self.client_id}" if self.client_id else f"user:{self.uid}"
