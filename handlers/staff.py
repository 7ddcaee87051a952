"""Commands for KPPN staff, recognised by their account in config.yaml, never by what they type."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.roles import READERS, RELOADERS
from bot.turn import Turn
from handlers import supervision

MAX_PROBLEMS_SHOWN = 15


async def reload_knowledge(turn: Turn) -> None:
    """/reload: read knowledge/ again; on any problem the previous version stays in use."""
    problems = await turn.knowledge.reload()
    if problems:
        shown = problems[:MAX_PROBLEMS_SHOWN]
        if len(problems) > len(shown):
            shown.append(f"… dan {len(problems) - len(shown)} masalah lain (lihat log)")
        turn.say("kb_reload_failed", problems="\n".join(shown))
        return
    knowledge = turn.knowledge.matcher.knowledge
    turn.reply(
        turn.text(
            "kb_reloaded", entries=len(knowledge.entries), out_of_scope=len(knowledge.out_of_scope)
        )
    )


def _with_argument(
    handler: Callable[[Turn, str], Awaitable[None]],
) -> Callable[[Turn], Awaitable[None]]:
    async def call(turn: Turn) -> None:
        await handler(turn, turn.inbound.args)

    return call


# command → (roles allowed, handler); anyone else gets "unknown command"
COMMANDS: dict[str, tuple[frozenset[str], Callable[[Turn], Awaitable[None]]]] = {
    "reload": (RELOADERS, reload_knowledge),
    **{name: (READERS, _with_argument(handler)) for name, handler in supervision.COMMANDS.items()},
}


def handles(turn: Turn) -> bool:
    """Whether this inbound is a staff command its sender may run."""
    command = turn.inbound.command
    if turn.staff is None or command not in COMMANDS:
        return False
    roles, _ = COMMANDS[command]
    return turn.staff.role in roles


async def handle(turn: Turn) -> None:
    turn.record_inbound = False  # operational commands are not part of any consultation
    _, handler = COMMANDS[turn.inbound.command or ""]
    await handler(turn)
