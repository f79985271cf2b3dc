"""Rider requests and answers."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    full_name: str = Field(min_length=1, max_length=160)
    document_id: str = Field(
        min_length=3, max_length=32, pattern=r"^[A-Za-z0-9-]+$", description="national ID number"
    )
    email: EmailStr | None = None


class UserOut(BaseModel):
    user_id: int
    full_name: str
    email: str | None
    registered_at: datetime
    active: bool
