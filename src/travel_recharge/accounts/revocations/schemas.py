"""Revocation requests and answers."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class TokenRevoke(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=4096, description="the bearer token to revoke")


class RevocationOut(BaseModel):
    account_id: int
    token_id: str | None = Field(description="the one token revoked; null: all of the account's")
    issued_before: datetime | None = Field(
        description="every token of the account issued before this is refused"
    )
    expires_at: datetime = Field(description="when every token it names has expired anyway")
    revoked_at: datetime
