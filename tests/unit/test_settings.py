"""Settings fail fast and name the bad variable."""

from __future__ import annotations

import pytest

from augur.common.settings import ServerSettings, SettingsError, load_settings


def test_bad_variables_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUGUR_GRPC_PORT", "not-a-port")
    monkeypatch.setenv("AUGUR_REDIS_URL", "http://localhost")
    with pytest.raises(SettingsError) as err:
        load_settings(ServerSettings)
    assert "AUGUR_GRPC_PORT" in str(err.value) and "AUGUR_REDIS_URL" in str(err.value)
    assert "redis://" in str(err.value)


def test_defaults_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUGUR_GRPC_PORT", raising=False)
    s = load_settings(ServerSettings, grpc_port=0)
    assert s.redis_prefix == "augur" and s.grpc_port == 0
