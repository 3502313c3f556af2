"""Service settings, from the environment (pydantic-settings).

``DATABASE_URL`` chooses the database: ``sqlite:///medrelief.db`` (the embedded default, a file
in WAL mode) or ``postgresql+psycopg://user:pass@host/db`` (production). ``MEDRELIEF_POLICY``
names the policy the service settles under: a bundled name (default ``demo``) or the path of a
region's own policy file — the one policy every route, statement and export of the service uses
(:func:`service_policy`). ``MEDRELIEF_MAX_BODY_BYTES``
is the largest request body accepted (default 1 MiB; an insurer's payout rows may be larger:
:data:`api.routes.reconciliations.MAX_BODY_BYTES`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from tiers.tables import CompiledPolicy


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MEDRELIEF_", extra="ignore")

    database_url: str = Field(
        "sqlite:///medrelief.db", validation_alias=AliasChoices("DATABASE_URL", "MEDRELIEF_DATABASE_URL")
    )
    policy: str = "demo"
    max_body_bytes: int = Field(2**20, ge=1024)


@lru_cache
def settings() -> Settings:
    return Settings()


@lru_cache
def service_policy() -> CompiledPolicy:
    """The service's policy (``MEDRELIEF_POLICY``: a bundled name or a file), loaded and compiled once."""
    from tiers.loader import load_policy
    from tiers.tables import compile_policy

    return compile_policy(load_policy(settings().policy))
