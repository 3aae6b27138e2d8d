"""Every operator setting, read from the environment in one place."""

from __future__ import annotations

import ipaddress
from decimal import Decimal
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.market_maker import CENT
from domain.services.ledger import Economy
from graph.extensions.limits import Limits

# Development only: production refuses to start without its own JWT_SECRET.
DEVELOPMENT_SECRET = "development-secret-do-not-use-in-production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, case_sensitive=False, extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./markets.db"
    redis_url: str | None = None
    # The prefix of every Redis key, channel and queue name of this deployment (markets.redis_client.namespace);
    # unset: derived from DATABASE_URL, so deployments of one database share and different databases never meet.
    redis_namespace: str | None = Field(default=None, min_length=1, max_length=100)
    jwt_secret: str = DEVELOPMENT_SECRET
    jwt_ttl_seconds: int = Field(default=3600, gt=0)
    environment: Literal["development", "production"] = "development"
    graphiql: bool | None = None
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    # Slow clients (README, "Slow clients"): the time a request's headers, then its body, may take
    # to arrive, and how long an idle kept-alive connection stays open.
    request_header_timeout_seconds: float = Field(default=10.0, gt=0)
    request_body_timeout_seconds: float = Field(default=30.0, gt=0)
    keep_alive_timeout_seconds: int = Field(default=5, gt=0)
    db_pool_size: int = Field(default=10, gt=0)
    # Read queries the planner handles skip graphql-core (graph.plan); PostgreSQL only.
    compiled_reads: bool = True
    # Tests: every planned request also runs through graphql-core, and any difference is a 500.
    read_plan_shadow: bool = False
    db_startup_timeout_seconds: float = Field(default=60.0, ge=0)
    log_level: str = "INFO"
    # "json" or "console"; unset: JSON lines in production, console lines in development.
    log_format: Literal["json", "console"] | None = None

    redis_timeout_seconds: float = Field(default=0.25, gt=0)
    market_cache_ttl_seconds: int = Field(default=300, ge=0)

    rate_limit_per_minute: int = Field(default=600, ge=0)
    auth_rate_limit_per_minute: int = Field(default=10, ge=0)
    # Comma-separated addresses or networks whose X-Forwarded-For is believed.
    trusted_proxies: str = ""

    max_query_depth: int = Field(default=10, gt=0)
    max_aliases: int = Field(default=30, gt=0)
    max_query_tokens: int = Field(default=5000, gt=0)
    max_query_cost: int = Field(default=10_000, gt=0)
    # Fields, fragment spreads and inline fragments written in one document, counted before validation.
    max_query_selections: int = Field(default=500, gt=0)
    persisted_queries_only: bool = False

    # Subscriptions over WebSocket (README, "Live updates").
    max_subscriptions_per_connection: int = Field(default=20, gt=0)
    ws_connection_init_timeout_seconds: float = Field(default=10.0, gt=0)
    ws_ping_interval_seconds: float = Field(default=20.0, ge=0)
    subscription_queue_size: int = Field(default=100, gt=0)
    # What one client may hold (markets.transport.socket_limits), and how often a socket's viewer is re-read.
    max_sockets_per_address: int = Field(default=10, gt=0)
    max_sockets_per_user: int = Field(default=5, gt=0)
    max_subscription_cost_per_connection: int = Field(default=5_000, gt=0)
    ws_viewer_recheck_seconds: float = Field(default=2.0, ge=0)

    # Comma-separated origins allowed by CORS; "*" allows any.
    cors_origins: str = ""

    # Search and background jobs (README, "Search and jobs").
    embedder: Literal["auto", "minilm", "hashing"] = "auto"
    # Cores the model computes on; 0: one in `markets serve` (a core stays for requests), all in
    # `markets worker` and `markets reindex`.
    embedder_threads: int = Field(default=0, ge=0)
    search_refresh_seconds: float = Field(default=1.0, ge=0)
    job_retries: int = Field(default=3, ge=0)
    job_retry_delay_seconds: float = Field(default=1.0, ge=0)
    job_concurrency: int = Field(default=8, gt=0)
    failed_job_ttl_seconds: int = Field(default=7 * 86_400, gt=0)
    # False: no close_expired_markets / reindex_stale runs from this process (they run elsewhere).
    periodic_jobs: bool = True

    # Money (contract, "Money and prices"): granted to each new user; each pool of a new market.
    starting_balance: Decimal = Field(default=Decimal("1000.00"), ge=0, le=1_000_000, decimal_places=2)
    market_liquidity: Decimal = Field(default=Decimal("100.00"), gt=0, le=1_000_000, decimal_places=2)

    @field_validator("trusted_proxies")
    @classmethod
    def proxies_are_addresses(cls, value: str) -> str:
        for entry in (p.strip() for p in value.split(",")):
            if entry:
                ipaddress.ip_network(entry, strict=False)  # ValueError names the bad entry
        return value

    @model_validator(mode="after")
    def production_needs_a_real_secret(self) -> Settings:
        if self.is_production and (
            self.jwt_secret == DEVELOPMENT_SECRET or len(self.jwt_secret.encode()) < 32
        ):
            raise ValueError("ENVIRONMENT=production needs a JWT_SECRET of at least 32 bytes")
        return self

    @property
    def economy(self) -> Economy:
        return Economy(starting_balance=self.starting_balance.quantize(CENT),
                       market_liquidity=self.market_liquidity.quantize(CENT))

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @property
    def json_logs(self) -> bool:
        return self.log_format == "json" if self.log_format else self.is_production

    @property
    def explorer_enabled(self) -> bool:
        """GraphiQL and introspection: on in development, off in production unless GRAPHIQL=true."""
        return self.graphiql if self.graphiql is not None else not self.is_production

    def query_limits(self) -> Limits:
        """The schema's query limits (graph.extensions.limits) these settings configure."""
        return Limits(
            max_depth=self.max_query_depth, max_aliases=self.max_aliases, max_tokens=self.max_query_tokens,
            max_cost=self.max_query_cost, max_selections=self.max_query_selections,
        )
