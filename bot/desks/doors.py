"""The bot's doors to a desk for the pages it serves (the dashboard, the key form): who is
this user, on which desk, and tell the desk its keys changed."""

from __future__ import annotations

from bot.clock import Clock
from bot.container import Services
from bot.desks.factory import DeskFactory
from bot.services.access import Role
from bot.settings import Settings


class DeskDoors:
    """A user's active desk for the web pages, through the registry and the desk factory."""

    def __init__(self, factory: DeskFactory) -> None:
        self.factory = factory

    @property
    def settings(self) -> Settings:
        return self.factory.shared.settings

    @property
    def clock(self) -> Clock:
        return self.factory.shared.clock

    async def services_for(self, user_id: int) -> Services | None:
        member = self.factory.shared.desks.active(user_id)
        if member is None:
            return None
        return await self.factory.get(member.desk.id)

    async def desk_for(self, user_id: int) -> tuple[str, Role] | None:
        member = self.factory.shared.desks.active(user_id)
        return None if member is None else (member.desk.id, member.role)

    async def keys_changed(self, desk_id: str, venue: str) -> None:
        """Keys were connected or wiped: the desk's clients are rebuilt with what is stored,
        and a refused-keys mark is lifted."""
        await self.factory.shared.desks.clear_revoked(desk_id)
        await self.factory.drop(desk_id)
