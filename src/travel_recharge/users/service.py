"""Registering riders."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from travel_recharge.kit.errors import Conflict, NotFound
from travel_recharge.models import User
from travel_recharge.users import repository
from travel_recharge.users.schemas import UserCreate, UserOut


async def register(session: AsyncSession, request: UserCreate) -> UserOut:
    user = await repository.insert_user(
        session, request.full_name, request.document_id, request.email
    )
    if user is None:
        raise Conflict("document_id: a rider with this document is already registered")
    return to_out(user)


async def require_user(session: AsyncSession, user_id: int) -> User:
    user = await repository.user_by_id(session, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    return user


def to_out(user: User) -> UserOut:
    return UserOut(
        user_id=user.id,
        full_name=user.full_name,
        email=user.email,
        registered_at=user.registered_at,
        active=user.active,
    )
