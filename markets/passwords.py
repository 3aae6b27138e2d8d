"""argon2id password hashing, run in a worker thread so the event loop never stalls on it."""

from __future__ import annotations

import argon2
from anyio import to_thread


class Argon2Hasher:
    def __init__(self, hasher: argon2.PasswordHasher | None = None) -> None:
        self._hasher = hasher or argon2.PasswordHasher()
        self._dummy = self._hasher.hash("an unknown account's password")

    async def hash(self, password: str) -> str:
        return await to_thread.run_sync(self._hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        return await to_thread.run_sync(self._verify, password_hash, password)

    async def verify_unknown(self, password: str) -> None:
        await self.verify(self._dummy, password)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False
