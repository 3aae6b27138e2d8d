"""Bearer tokens: HS256 JWTs with the algorithm pinned and every required claim checked."""

from __future__ import annotations

from datetime import datetime, timedelta

import jwt

from domain.entities import User
from domain.errors import InvalidToken
from graph import ids

ALGORITHM = "HS256"
MALFORMED = "Expected 'Authorization: Bearer <token>'"
# One fixed message per reason a token is refused: PyJWT's own messages tell an attacker which
# check failed and how (padding, segments, claim names), and may echo the input.
REFUSALS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "The token has expired"),
    (jwt.ImmatureSignatureError, "The token is not valid yet"),
    (jwt.MissingRequiredClaimError, "The token lacks a required claim"),
    (jwt.InvalidAlgorithmError, "The token's algorithm is not accepted"),
    (jwt.InvalidSignatureError, "The token's signature does not verify"),
    (jwt.DecodeError, "The token is malformed"),
)
INVALID = "The token is invalid"


class TokenService:
    def __init__(self, *, secret: str, ttl_seconds: int) -> None:
        self._secret = secret
        self._ttl = timedelta(seconds=ttl_seconds)

    def issue(self, user: User, *, now: datetime) -> str:
        claims = {
            "sub": ids.encode("User", user.id),
            "email": user.email,
            "role": user.role.value,
            "iat": int(now.timestamp()),
            "exp": int((now + self._ttl).timestamp()),
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def user_id(self, authorization: str) -> int:
        """The user pk named by an `Authorization` header value, or InvalidToken."""
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidToken(MALFORMED)
        try:
            claims = jwt.decode(
                token.strip(), self._secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp", "iat"]}
            )
        except jwt.PyJWTError as error:
            raise InvalidToken(refusal(error)) from None
        pk = ids.decode(str(claims["sub"]), "User")
        if pk is None:
            raise InvalidToken(INVALID)
        return pk


def refusal(error: jwt.PyJWTError) -> str:
    """The fixed message for why PyJWT refused a token (the first match: the classes nest)."""
    return next((message for kind, message in REFUSALS if isinstance(error, kind)), INVALID)
