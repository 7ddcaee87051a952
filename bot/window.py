"""A channel's customer-service window: when free text may go out, and what goes instead.

WhatsApp lets a business send free-form messages only within 24 hours of the person's last
message. Outside that window only pre-approved templates go out, and only to people who agreed
to notifications. The outbox (bot/outbox.py) asks this module what to do with a message to a
stakeholder whose window is closed: send a template that says it all (a progress message), or
hold the message and announce it with a template whose quick reply reopens the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.buttons import action
from bot.config import Config, TemplateConfig
from bot.messages import Outbound, TemplateCall

OPEN = "open"  # the quick reply of an announcing template: "show me the message"
OPEN_ACTION = action(OPEN)
MAX_PARAMETER = 200  # characters of one template parameter: a template is a notice, not a letter


@dataclass(frozen=True)
class ServiceWindow:
    length: timedelta
    config: Config

    @staticmethod
    def for_channel(config: Config, channel: str) -> ServiceWindow | None:
        """The window of a channel that has one (WhatsApp), else None."""
        if channel != "whatsapp":
            return None
        return ServiceWindow(timedelta(hours=config.whatsapp.window_hours), config)

    def is_open(self, last_inbound_at: datetime | None, now: datetime) -> bool:
        return last_inbound_at is not None and now - last_inbound_at < self.length

    def closes_at(self, last_inbound_at: datetime | None) -> datetime | None:
        return last_inbound_at + self.length if last_inbound_at is not None else None

    def template_for(self, outbound: Outbound, opted_in: bool | None) -> TemplateConfig | None:
        """The template for this message while the window is closed; None: hold it unannounced
        (no opt-in, or no template configured)."""
        if not opted_in:
            return None
        return self.config.whatsapp.template_for(outbound.key)

    def call(self, template: TemplateConfig, outbound: Outbound) -> TemplateCall:
        """The template filled from the message's values and the office's placeholders."""
        values = {**self.config.office_values(), **outbound.values}
        parameters = tuple(_parameter(str(values.get(name, "-"))) for name in template.parameters)
        return TemplateCall(
            template.name,
            template.language,
            parameters,
            template.quick_reply,
            OPEN_ACTION if template.quick_reply else None,
        )


def _parameter(value: str) -> str:
    """Template parameters may not hold newlines, tabs or runs of spaces (Meta refuses them)."""
    flat = " ".join(value.split()) or "-"
    return flat if len(flat) <= MAX_PARAMETER else flat[: MAX_PARAMETER - 1] + "…"
