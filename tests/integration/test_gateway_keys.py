"""Gateway API keys against real Redis: hashed storage, scopes, revocation, the key map.

Whether a token is accepted is decided inside the gateway's nginx and is tested through the
gateway (test_gateway.py); here, what is stored and what the key map is written from."""

from __future__ import annotations

import hashlib

import pytest
import redis

from augur.common.errors import InvalidArgument, NotFound
from augur.common.settings import ServerSettings
from augur.features.store import RedisFeatureStore
from augur.gateway.front import key_map
from augur.gateway.keys import KeyStore


def test_keys_are_stored_hashed_with_scopes_and_revocable(
    settings: ServerSettings, redis_client: redis.Redis, prefix: str
) -> None:
    keys = KeyStore(RedisFeatureStore.from_settings(settings))
    shop, shop_token = keys.create("storefront", ["recommend"])
    crm, _ = keys.create("crm", ["churn", "contact.NextBestContact"])
    assert shop_token.startswith(f"ak_{shop.key_id}.")
    secret = shop_token.split(".", 1)[1]
    # the secret is never stored, only SHA-256(salt + secret)
    for key in redis_client.scan_iter(match=f"{prefix}:*"):
        if redis_client.type(key) == b"hash":
            assert all(secret.encode() not in v for v in redis_client.hgetall(key).values())
    records = {r.key_id: r for r in keys.records()}
    record = records[shop.key_id]
    assert record.digest == hashlib.sha256(bytes.fromhex(record.salt) + secret.encode()).hexdigest()
    assert records[crm.key_id].scopes == ("churn", "contact.NextBestContact")
    keys.revoke(crm.key_id)
    assert keys.records()[[r.key_id for r in keys.records()].index(crm.key_id)].revoked
    listed = {k.name: k for k in keys.list()}
    assert listed["crm"].revoked and not listed["storefront"].revoked
    # the nginx key map: id -> salt, digest, scopes, revoked flag; never the secret
    text = key_map(keys.records())
    assert f'"{shop.key_id}" "{record.salt} {record.digest} recommend 0";' in text
    assert "churn,contact.NextBestContact 1" in text and secret not in text
    with pytest.raises(InvalidArgument, match="unknown scope"):
        keys.create("x", ["everything"])
    with pytest.raises(InvalidArgument, match="at least one scope"):
        keys.create("x", [])
    with pytest.raises(NotFound, match="no API key"):
        keys.revoke("000000000000")
