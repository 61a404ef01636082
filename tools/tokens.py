"""Access tokens (JWT, HS256) and opaque secrets (refresh tokens, client secrets)."""

import hashlib
import hmac
import secrets
import time

import jwt

ALGORITHM = "HS256"
ISSUER = "api_sync"


class InvalidToken(Exception):
    """The token is malformed, forged or expired; the message says which."""


def new_secret(prefix="", nbytes=32):
    """A random URL-safe secret, optionally prefixed (``whsec_``, ``rt_``...)."""
    return prefix + secrets.token_urlsafe(nbytes)


def hash_secret(value):
    """SHA-256 hex digest of a high-entropy secret.

    Secrets made by :func:`new_secret` carry 256 bits of randomness, so a fast hash is safe
    (a slow KDF only matters for low-entropy human passwords).
    """
    return hashlib.sha256(value.encode()).hexdigest()


def same_secret(value, digest):
    """Constant-time check of ``value`` against a :func:`hash_secret` digest."""
    return hmac.compare_digest(hash_secret(value), digest or "")


def looks_like_jwt(token):
    return token.startswith("eyJ") and token.count(".") == 2


def encode_access_token(key, *, uid, session_id, database, lifetime, now=None):
    """Sign an access token for ``uid`` in token family ``session_id``; returns (token, exp)."""
    now = int(now or time.time())
    exp = now + int(lifetime)
    claims = {
        "iss": ISSUER,
        "sub": str(uid),
        "sid": session_id,
        "db": database,
        "iat": now,
        "exp": exp,
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM), exp


def decode_access_token(key, token, *, database):
    """Verify signature, expiry, issuer and database; return the claims."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "sid"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("Access token expired") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken("Invalid access token") from exc
    if claims.get("db") != database:
        raise InvalidToken("Access token issued for another database")
    return claims
