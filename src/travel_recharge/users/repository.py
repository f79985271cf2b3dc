"""SQL of the users feature."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from travel_recharge.models import User


async def insert_user(
    session: AsyncSession, full_name: str, document_id: str, email: str | None
) -> User | None:
    """The new user, or None when the document id is already registered."""
    user_id = await session.scalar(
        insert(User)
        .values(full_name=full_name, document_id=document_id, email=email)
        .on_conflict_do_nothing(index_elements=[User.document_id])
        .returning(User.id)
    )
    return None if user_id is None else await session.get(User, user_id)


async def user_by_id(session: AsyncSession, user_id: int) -> User | None:
    return await session.scalar(select(User).where(User.id == user_id))
