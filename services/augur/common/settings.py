"""Typed settings read from ``AUGUR_*`` environment variables.

Every process validates its settings at start-up and refuses to start with a
message that names the offending variable (``SettingsError``), instead of
failing later on first use.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "AUGUR_"


class SettingsError(ValueError):
    """Raised when an ``AUGUR_*`` variable is missing or invalid."""


class RedisSettings(BaseSettings):
    """Where the online state lives (features, streams, contact state)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    redis_url: str = Field(
        "redis://127.0.0.1:6379/0",
        description="Redis URL (redis:// or rediss:// for TLS, unix:// for a socket).",
    )
    redis_prefix: str = Field(
        "augur",
        description="Prefix of every key Augur writes; lets several deployments or test runs "
        "share one Redis without seeing each other's data.",
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
    )
    redis_timeout_ms: int = Field(
        200,
        ge=1,
        le=60_000,
        description="Socket timeout of every Redis call in ms; a call never waits longer.",
    )
    redis_max_connections: int = Field(
        64, ge=1, le=10_000, description="Connection pool size per process."
    )

    @field_validator("redis_url")
    @classmethod
    def _check_scheme(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value


class FeatureSettings(RedisSettings):
    """Feature store and event ingestion."""

    feature_ttl_seconds: int = Field(
        400 * 86400,
        ge=0,
        description="TTL of a customer's online feature keys, refreshed on every write "
        "(event or materialisation); 0 means no expiry. Keep it longer than the longest "
        "inactivity a model must still see (churners are inactive customers).",
    )
    ingest_shards: int = Field(
        1,
        ge=1,
        le=64,
        description="Number of event stream shards; one consumer per shard keeps each "
        "customer's events in order.",
    )
    ingest_stream_maxlen: int = Field(
        1_000_000,
        ge=1000,
        description="Most entries a stream shard may hold; beyond it IngestEvents answers "
        "RESOURCE_EXHAUSTED rather than drop data (applied entries are trimmed).",
    )
    ingest_dedup_ttl_seconds: int = Field(
        7 * 86400,
        ge=60,
        description="How long an event id is remembered for idempotency.",
    )
    ingest_max_future_seconds: int = Field(
        300, ge=0, description="How far in the future an event time may be (clock skew)."
    )
    consumer_batch: int = Field(
        500, ge=1, le=10_000, description="Stream entries the consumer reads per call."
    )
    consumer_block_ms: int = Field(
        200, ge=1, le=60_000, description="How long the consumer waits for new entries."
    )
    feature_refresh_seconds: float = Field(
        3600.0,
        ge=0,
        description="How often each consumer re-finalises its shard's feature vectors as of "
        "now, so time-based features (days since last order, decayed counts) do not go stale "
        "for customers without new events; 0 disables.",
    )


class ServerSettings(FeatureSettings):
    """A gRPC server process (the chassis shared by every service)."""

    grpc_host: str = Field("127.0.0.1", description="Interface the gRPC server binds to.")
    grpc_port: int = Field(
        50051, ge=0, le=65535, description="gRPC port; 0 picks a free port (tests)."
    )
    metrics_port: int = Field(
        9100,
        ge=0,
        le=65535,
        description="Port of the Prometheus /metrics endpoint; 0 picks a free port; "
        "with N processes, process i uses metrics_port + i.",
    )
    processes: int = Field(
        1, ge=1, le=64, description="Server processes sharing the gRPC port (SO_REUSEPORT)."
    )
    grace_seconds: float = Field(
        10.0,
        ge=0,
        le=300,
        description="On SIGTERM/SIGINT, how long in-flight calls may run before being cancelled.",
    )
    max_message_bytes: int = Field(
        4 * 1024 * 1024, ge=1024, description="Largest gRPC message accepted or sent."
    )
    log_level: str = Field(
        "INFO",
        pattern=r"^(DEBUG|INFO|WARNING|ERROR)$",
        description="Log level of the JSON logs.",
    )
    mlflow_tracking_uri: str = Field(
        "",
        description="MLflow tracking + registry URI; empty means the embedded store, a sqlite "
        "file at <state dir>/mlflow/mlflow.db (artifacts beside it).",
    )
    state_dir: Path = Field(
        Path(".augur"), description="Local state: data, logs, pid files, model cache."
    )
    tls_cert_file: str = Field(
        "",
        description="PEM certificate of the server; with tls_key_file set the service (for "
        "the gateway: its gRPC and HTTP ports) is served over TLS only.",
    )
    tls_key_file: str = Field("", description="PEM private key of tls_cert_file.")
    tls_client_ca_file: str = Field(
        "",
        description="PEM CA bundle; when set, clients must present a certificate it signed "
        "(mutual TLS).",
    )

    @model_validator(mode="after")
    def _tls_pair(self) -> ServerSettings:
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ValueError("tls_cert_file and tls_key_file go together: set both or neither")
        if self.tls_client_ca_file and not self.tls_cert_file:
            raise ValueError("tls_client_ca_file needs tls_cert_file and tls_key_file")
        return self

    @model_validator(mode="after")
    def _embedded_store(self) -> ServerSettings:
        if not self.mlflow_tracking_uri:
            db = (self.state_dir / "mlflow" / "mlflow.db").resolve()
            self.mlflow_tracking_uri = f"sqlite:///{db}"
        return self


S = TypeVar("S", bound=BaseSettings)


def load_settings(cls: type[S], **overrides: object) -> S:
    """Build settings from the environment, naming the bad variable on failure."""
    try:
        return cls(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            problems.append(f"{ENV_PREFIX}{field.upper()}: {err['msg']}")
        raise SettingsError("invalid configuration: " + "; ".join(problems)) from None


def settings_table(cls: type[BaseSettings]) -> list[tuple[str, str, str]]:
    """(variable, default, description) for every setting, used to write the README table."""
    rows = []
    for name, field in cls.model_fields.items():
        rows.append((f"{ENV_PREFIX}{name.upper()}", repr(field.default), field.description or ""))
    return rows


class ModelServiceSettings(ServerSettings):
    """A service that serves a model from the MLflow registry."""

    model_alias: str = Field("champion", description="Registry alias the service serves.")
    model_poll_seconds: float = Field(
        10.0, gt=0, le=3600, description="How often the alias is checked for a new version."
    )


class ChurnSettings(ModelServiceSettings):
    """The churn service."""

    churn_risk_medium: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Probability from which a customer is MEDIUM risk; "
        "unset uses the model's trained threshold.",
    )
    churn_risk_high: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Probability from which a customer is HIGH risk; "
        "unset uses the model's trained threshold.",
    )


class RecommendSettings(ModelServiceSettings):
    """The recommendation service."""

    recommend_as_of: str = Field(
        "",
        description="Reference time of the repeat clock (ISO 8601 with offset); empty means "
        "the wall clock. Set it to serve a replay of historical data (demos, tests).",
    )
    recommend_stock_filter: bool = Field(
        True,
        description="Drop out-of-stock items (stock state read from Redis on every call); when "
        "Redis is unreachable the answer is marked degraded with reason STOCK_UNKNOWN.",
    )

    recommend_new_item_slots: int = Field(
        1,
        ge=0,
        le=10,
        description="Positions at the end of each list given to items added to the catalogue "
        "after the model was trained (ItemEvents with a category), the newest in the "
        "customer's favourite categories (the session's, for a session), marked "
        "SOURCE_NEW_IN_CATALOGUE; 0 turns it off.",
    )
    recommend_live_cart: bool = Field(
        True,
        description="When a Recommend call carries no context items, use the customer's cart "
        "as the ingestion consumer knows it (items added through IngestEvents in the last 6 "
        "hours, not removed or bought since), read in the same round trip as the purchases.",
    )
    recommend_live_purchases: bool = Field(
        True,
        description="Read each customer's purchases since the model's cutoff from Redis on "
        "every call (recorded by the ingestion consumer), so that a purchase restarts the "
        "item's repeat clock in the next answer; when Redis is unreachable the model's own "
        "history answers.",
    )
    recommend_compile_ranker: bool = Field(
        True,
        description="Compile the rankers' trees (the learnt blend's, the repeat list's) to "
        "native code (lleaves) when a model loads, before it serves (the model serving until "
        "then goes on serving), cached beside the model; a 100-tree ranker compiles in about "
        "10 s on 2 cores, a cached one loads at once.",
    )

    @field_validator("recommend_as_of")
    @classmethod
    def _check_time(cls, value: str) -> str:
        if value:
            from datetime import datetime

            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                raise ValueError(
                    "must be an ISO 8601 time, e.g. 2026-01-05T12:00:00+00:00"
                ) from None
            if parsed.tzinfo is None:
                raise ValueError("must carry a UTC offset, e.g. +00:00")
        return value

    def as_of_seconds(self) -> float | None:
        """The pinned reference time in Unix seconds, or None for the wall clock."""
        if not self.recommend_as_of:
            return None
        from datetime import datetime

        return datetime.fromisoformat(self.recommend_as_of).timestamp()


class ContactSettings(ModelServiceSettings):
    """The next-best-contact service."""

    contact_holdout_share: float = Field(
        0.1,
        ge=0.0,
        le=0.5,
        description="Share of customers held out of a named experiment (never contacted for "
        "it), assigned by a hash of experiment and customer id, unless the experiment registered "
        "its own share (EnrollExperiment, outreach plans); a stored arm always wins.",
    )
    contact_retention_days: int = Field(
        400,
        ge=1,
        le=3650,
        description="How long contact records, sent logs and profiles are kept (TTL, refreshed "
        "on every contact).",
    )


class OutreachSettings(ContactSettings):
    """The outreach worker (`augur serve outreach`): webhook delivery and real-time triggers."""

    outreach_webhook_url: str = Field(
        "",
        description="http(s) URL every queued contact and trigger is POSTed to at its send time "
        "(an e-mail/SMS/CRM provider); empty: nothing is delivered and the queue waits.",
    )
    outreach_webhook_secret: str = Field(
        "",
        description="HMAC-SHA256 key of the X-Augur-Signature header; required with a webhook.",
    )
    outreach_webhook_timeout_seconds: float = Field(
        5.0, gt=0, le=120, description="Timeout of one webhook request."
    )
    outreach_delivery_attempts: int = Field(
        8, ge=1, le=50, description="Attempts before a delivery goes to the dead-letter list."
    )
    outreach_backoff_seconds: float = Field(
        1.0, gt=0, le=3600, description="Delay before the first retry; doubles every attempt."
    )
    outreach_backoff_max_seconds: float = Field(
        300.0, gt=0, le=86400, description="Longest delay between two attempts."
    )
    outreach_delivery_concurrency: int = Field(
        8, ge=1, le=256, description="Webhook requests in flight at once."
    )

    @model_validator(mode="after")
    def _secret_with_webhook(self) -> OutreachSettings:
        if self.outreach_webhook_url:
            if not self.outreach_webhook_url.startswith(("http://", "https://")):
                raise ValueError("outreach_webhook_url must start with http:// or https://")
            if not self.outreach_webhook_secret:
                raise ValueError("outreach_webhook_secret is required with outreach_webhook_url")
        return self


class GatewaySettings(ServerSettings):
    """The gateway: one entry point in front of the services."""

    gateway_backends: str = Field(
        "",
        description="Where each service answers, e.g. "
        "'churn=127.0.0.1:50052,recommend=127.0.0.1:50053,contact=127.0.0.1:50054,"
        "features=127.0.0.1:50051'; a call to a service not listed is UNAVAILABLE.",
    )
    gateway_rate_per_second: float = Field(
        200.0, gt=0, description="Requests per second each API key may make (token bucket)."
    )
    gateway_burst: int = Field(
        400, ge=1, description="Requests an API key may make at once above its rate."
    )
    gateway_key_refresh_seconds: float = Field(
        1.0,
        gt=0,
        le=60,
        description="How often the gateway re-reads the API keys from Redis; a created or "
        "revoked key takes effect within this time.",
    )
    gateway_http_port: int = Field(
        8080,
        ge=0,
        le=65535,
        description="Port of the REST/JSON entry point for HTTP/1.1 clients (REST is also "
        "served on the gRPC port to HTTP/2 clients); 0 picks a free port.",
    )
    gateway_nginx_workers: int = Field(
        1, ge=1, le=64, description="nginx worker processes of the gateway's front."
    )
    gateway_part_timeout_ms: int = Field(
        250,
        ge=1,
        le=60_000,
        description="Deadline of each backend call of a composed answer (CustomerInsight, "
        "NextBestAction), capped by the client's own deadline.",
    )
    gateway_retry_budget: float = Field(
        0.1,
        ge=0,
        le=1,
        description="Retries of idempotent reads the gateway may add, as a share of calls "
        "(plus 10 in reserve); 0 turns retries off.",
    )
    gateway_breaker_failures: int = Field(
        5,
        ge=1,
        description="Consecutive failures (UNAVAILABLE, DEADLINE_EXCEEDED, no connection) after "
        "which a backend's circuit opens and calls to it fail at once.",
    )
    gateway_breaker_reset_seconds: float = Field(
        2.0,
        gt=0,
        le=300,
        description="How long an open circuit stays open before one trial call is let through.",
    )
    gateway_at_risk_probability: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Churn probability from which NextBestAction proposes a retention action.",
    )
    gateway_backend_ca_file: str = Field(
        "",
        description="PEM CA bundle that signed the backends' certificates; when set the "
        "gateway talks TLS to every backend and verifies it (by host name: give backends as "
        "a DNS name their certificate carries, since nginx does not check IP-address names).",
    )
    gateway_backend_cert_file: str = Field(
        "",
        description="PEM client certificate the gateway presents to the backends (mutual TLS).",
    )
    gateway_backend_key_file: str = Field(
        "", description="PEM private key of gateway_backend_cert_file."
    )
    gateway_default_timeout_ms: int = Field(
        5000,
        ge=1,
        le=600_000,
        description="Deadline given to a backend call when the client set none (a client "
        "deadline is passed on as it is).",
    )

    @field_validator("gateway_backends")
    @classmethod
    def _check_backends(cls, value: str) -> str:
        for part in filter(None, (p.strip() for p in value.split(","))):
            name, sep, address = part.partition("=")
            if not sep or not name or ":" not in address:
                raise ValueError(f"'{part}' is not service=host:port")
        return value

    def backends(self) -> dict[str, str]:
        out = {}
        for part in filter(None, (p.strip() for p in self.gateway_backends.split(","))):
            name, _, address = part.partition("=")
            out[name.strip()] = address.strip()
        return out
