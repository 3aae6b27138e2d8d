"""Every operator setting, read from the environment in one place."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Development only: production refuses to start without its own JWT_SECRET.
DEVELOPMENT_SECRET = "development-secret-do-not-use-in-production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, case_sensitive=False, extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./markets.db"
    redis_url: str | None = None
    jwt_secret: str = DEVELOPMENT_SECRET
    jwt_ttl_seconds: int = Field(default=3600, gt=0)
    environment: Literal["development", "production"] = "development"
    graphiql: bool | None = None
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    db_pool_size: int = Field(default=10, gt=0)
    log_level: str = "INFO"

    @model_validator(mode="after")
    def production_needs_a_real_secret(self) -> Settings:
        if self.is_production and (
            self.jwt_secret == DEVELOPMENT_SECRET or len(self.jwt_secret.encode()) < 32
        ):
            raise ValueError("ENVIRONMENT=production needs a JWT_SECRET of at least 32 bytes")
        return self

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def explorer_enabled(self) -> bool:
        """GraphiQL and introspection: on in development, off in production unless GRAPHIQL=true."""
        return self.graphiql if self.graphiql is not None else not self.is_production
