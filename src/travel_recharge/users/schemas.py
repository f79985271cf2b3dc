"""Rider requests and answers."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field

# Domains email-validator refuses though RFC 5321 admits them: special-use names (RFC 6761),
# IP literals and dotless domains.
EMAIL_REFUSED = r"([.@](arpa|invalid|local|localhost|onion|test)$)|(@\[)|(@[^.]*$)"


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    full_name: str = Field(min_length=1, max_length=160)
    document_id: str = Field(
        min_length=3, max_length=32, pattern=r"^[A-Za-z0-9-]+$", description="national ID number"
    )
    email: EmailStr | None = Field(
        default=None,
        description="an address with a dotted domain: no IP literal, no special-use name",
        # email-validator's rules beyond `format: email` that the document can state.
        json_schema_extra={"not": {"type": "string", "pattern": EMAIL_REFUSED}},
    )


class UserOut(BaseModel):
    user_id: int
    full_name: str
    email: str | None
    registered_at: datetime
    active: bool
