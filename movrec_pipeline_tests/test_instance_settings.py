"""Instance settings the launcher applies: pool limits and their override."""

from __future__ import annotations

import pytest

from movrec_pipeline.cli import instance
from movrec_pipeline.core.errors import MovrecError
from movrec_pipeline.defs.policies import DB_POOL, EMBEDDING_API_POOL, POOL_LIMITS


def test_pool_limits_default_and_override(monkeypatch) -> None:
    monkeypatch.delenv(instance.POOL_LIMITS_ENV, raising=False)
    assert instance.pool_limits() == POOL_LIMITS
    monkeypatch.setenv(instance.POOL_LIMITS_ENV, f" {DB_POOL}=4 , ")
    assert instance.pool_limits() == {DB_POOL: 4, EMBEDDING_API_POOL: POOL_LIMITS[EMBEDDING_API_POOL]}


@pytest.mark.parametrize("value", ["movrec_db_heavy=0", "movrec_db_heavy", "gpu=2", "movrec_db_heavy=two"])
def test_pool_limits_refuse_what_they_cannot_apply(monkeypatch, value: str) -> None:
    monkeypatch.setenv(instance.POOL_LIMITS_ENV, value)
    with pytest.raises(MovrecError, match=rf"^MOVREC_POOL_LIMITS: '{value}' is not <pool>=<slots ≥ 1>"):
        instance.pool_limits()
