"""API keys for the gateway: stored hashed, compared in constant time, with scopes.

A key reads ``ak_<id>.<secret>``. Redis keeps, per id, a random salt and
SHA-256(salt + secret), never the secret, which is shown once at creation.
Scopes:

* ``<service>`` (``churn``, ``recommend``, ``contact``, ``features``,
  ``gateway``): every non-admin RPC of that service;
* ``<service>.<Rpc>``: that RPC only, e.g. ``contact.NextBestContact``;
* ``admin``: everything, including the admin RPCs (model reloads, policy
  updates, erasure), which no other scope grants.

The check itself runs inside the gateway's nginx (``nginx/augur_auth.js``) on the key map
the gateway writes from ``KeyStore.records``: there is one place that decides.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from augur.common.errors import InvalidArgument, NotFound
from augur.features.store import RedisFeatureStore

SERVICES = ("churn", "recommend", "contact", "features", "gateway")
ADMIN = "admin"
ADMIN_RPCS = frozenset(
    {
        "churn.ReloadModel",
        "recommend.ReloadModel",
        "contact.ReloadModel",
        "contact.UpdateContactPolicy",
        "contact.ForgetCustomer",
    }
)
_SCOPE = re.compile(r"^(admin|(churn|recommend|contact|features|gateway)(\.[A-Z][A-Za-z]+)?)$")


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    scopes: tuple[str, ...]
    created_at: float
    revoked: bool


@dataclass(frozen=True)
class KeyRecord:
    """What the gateway needs to check a token: never the secret."""

    key_id: str
    salt: str
    digest: str
    scopes: tuple[str, ...]
    revoked: bool


def _digest(salt: bytes, secret: str) -> bytes:
    return hashlib.sha256(salt + secret.encode()).digest()


class KeyStore:
    def __init__(self, store: RedisFeatureStore) -> None:
        self.store = store
        self.client = store.client
        self.prefix = store.keys.prefix

    def _key(self, key_id: str) -> str:
        return f"{self.prefix}:gw:key:{key_id}"

    def _index(self) -> str:
        return f"{self.prefix}:gw:keys"

    def create(self, name: str, scopes: list[str]) -> tuple[ApiKey, str]:
        """A new key and its token (shown once; only its salted hash is stored)."""
        if not name or len(name) > 64 or not name.isprintable():
            raise InvalidArgument("name must be 1..64 printable characters")
        if not scopes:
            raise InvalidArgument("at least one scope is required")
        bad = [s for s in scopes if not _SCOPE.match(s)]
        if bad:
            raise InvalidArgument(
                f"unknown scope(s) {', '.join(bad)}: use admin, a service "
                f"({', '.join(SERVICES)}) or service.Rpc, e.g. contact.NextBestContact"
            )
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16)
        now = time.time()
        record = {
            "name": name,
            "scopes": ",".join(sorted(set(scopes))),
            "salt": salt.hex(),
            "hash": _digest(salt, secret).hex(),
            "created_at": repr(now),
            "revoked": "0",
        }
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self._key(key_id), mapping=record)  # type: ignore[arg-type]
        pipe.sadd(self._index(), key_id)
        self.store._call(pipe.execute)
        key = ApiKey(key_id, name, tuple(sorted(set(scopes))), now, False)
        return key, f"ak_{key_id}.{secret}"

    def _load(self, key_id: str) -> tuple[ApiKey, dict[bytes, bytes]] | None:
        raw: Any = self.store._call(self.client.hgetall, self._key(key_id))
        if not raw:
            return None
        key = ApiKey(
            key_id,
            raw[b"name"].decode(),
            tuple(s for s in raw[b"scopes"].decode().split(",") if s),
            float(raw[b"created_at"]),
            raw[b"revoked"] == b"1",
        )
        return key, raw

    def list(self) -> list[ApiKey]:
        ids: Any = self.store._call(self.client.smembers, self._index())
        keys = [self._load(i.decode()) for i in ids]
        return sorted((k for k, _ in filter(None, keys)), key=lambda k: k.created_at)

    def revoke(self, key_id: str) -> ApiKey:
        found = self._load(key_id)
        if found is None:
            raise NotFound(f"no API key with id '{key_id}'")
        self.store._call(self.client.hset, self._key(key_id), "revoked", "1")
        return ApiKey(found[0].key_id, found[0].name, found[0].scopes, found[0].created_at, True)

    def records(self) -> tuple[KeyRecord, ...]:
        """Every key with its salt and digest: what the gateway's key map is written from."""
        ids: Any = self.store._call(self.client.smembers, self._index())
        out = []
        for key_id in sorted(i.decode() for i in ids):
            found = self._load(key_id)
            if found is not None:
                key, raw = found
                out.append(
                    KeyRecord(
                        key_id,
                        raw[b"salt"].decode(),
                        raw[b"hash"].decode(),
                        key.scopes,
                        key.revoked,
                    )
                )
        return tuple(out)
