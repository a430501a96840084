"""Gateway API keys against real Redis: hashed storage, constant-time check, scopes, revoke."""

from __future__ import annotations

import pytest
import redis

from services.common.errors import InvalidArgument, PermissionDenied, Unauthenticated
from services.common.features.store import RedisFeatureStore
from services.common.settings import ServerSettings
from services.gateway.keys import KeyStore

pytestmark = pytest.mark.integration
NBC = "/augur.contact.v1.ContactService/NextBestContact"
RECOMMEND = "/augur.recommend.v1.RecommendService/Recommend"
FORGET = "/augur.contact.v1.ContactService/ForgetCustomer"


def test_keys_are_hashed_scoped_and_revocable(
    settings: ServerSettings, redis_client: redis.Redis, prefix: str
) -> None:
    keys = KeyStore(RedisFeatureStore.from_settings(settings))
    storefront, shop_token = keys.create("storefront", ["recommend"])
    crm, crm_token = keys.create("crm", ["churn", "contact.NextBestContact"])
    _, admin_token = keys.create("ops", ["admin"])
    # the secret is never stored
    secret = shop_token.split(".", 1)[1].encode()
    for key in redis_client.scan_iter(match=f"{prefix}:*"):
        if redis_client.type(key) == b"hash":
            assert all(secret not in v for v in redis_client.hgetall(key).values())
    assert keys.authorize(shop_token, RECOMMEND).key_id == storefront.key_id
    assert keys.authorize(crm_token, NBC).name == "crm"
    with pytest.raises(PermissionDenied, match=r"may not call contact\.NextBestContact"):
        keys.authorize(shop_token, NBC)
    with pytest.raises(PermissionDenied, match="needs scope admin"):
        keys.authorize(crm_token, FORGET)
    assert keys.authorize(admin_token, FORGET).name == "ops"
    wrong = shop_token[:-4] + ("AAAA" if not shop_token.endswith("AAAA") else "BBBB")
    with pytest.raises(Unauthenticated, match="invalid API key"):
        keys.authorize(wrong, RECOMMEND)
    for bad in ("", "Bearer x", "ak_zz.short"):
        with pytest.raises(Unauthenticated, match="malformed"):
            keys.authenticate(bad)
    with pytest.raises(Unauthenticated, match="unknown API key"):
        keys.authenticate("ak_000000000000." + "x" * 40)
    keys.revoke(crm.key_id)
    with pytest.raises(Unauthenticated, match="revoked"):
        keys.authorize(crm_token, NBC)
    listed = {k.name: k for k in keys.list()}
    assert listed["crm"].revoked and not listed["storefront"].revoked
    assert listed["crm"].scopes == ("churn", "contact.NextBestContact")
    with pytest.raises(InvalidArgument, match="unknown scope"):
        keys.create("x", ["everything"])
