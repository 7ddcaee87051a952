"""The timer events the scheduler feeds through the engine, as button-like actions."""

from __future__ import annotations

from bot.buttons import Action, action

JOB = "job"  # job:<scheduled job id>
WEEKLY_REPORT = "weekly_report"
SYSTEM = "system"  # the channel of timer events


def job(job_id: int) -> Action:
    return action(JOB, job_id)


def weekly_report() -> Action:
    return action(WEEKLY_REPORT)
