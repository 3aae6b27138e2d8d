"""Bearer tokens: HS256 JWTs with the algorithm pinned and every required claim checked."""

from __future__ import annotations

from datetime import datetime, timedelta

import jwt

from domain.entities import User
from graph import ids

ALGORITHM = "HS256"


class InvalidToken(Exception):
    """The Authorization header does not carry a token we accept."""


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
            raise InvalidToken("Expected 'Authorization: Bearer <token>'")
        try:
            claims = jwt.decode(
                token.strip(), self._secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp", "iat"]}
            )
        except jwt.PyJWTError as error:
            raise InvalidToken(f"Invalid token: {error}") from None
        pk = ids.decode(str(claims["sub"]), "User")
        if pk is None:
            raise InvalidToken("Invalid token: unknown subject")
        return pk
