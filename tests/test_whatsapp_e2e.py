"""WhatsApp end to end: the real adapter and httpx against the fake Graph API, the desk on the
fake Telegram Bot API, webhooks posted (signed) to the host's web app over HTTP."""

from __future__ import annotations

from pathlib import Path

from bot.clock import FakeClock
from bot.store.models import InboxUpdate, Message, Stakeholder, Ticket
from tests.conftest import rows
from tests.fakes.bot_api import FakeBotApi
from tests.test_desk_e2e import ANDI, GROUP, in_thread
from tests.whatsapp_harness import BSUID, WA_ID, whatsapp_desk


async def test_a_whole_consultation_on_whatsapp_with_the_desk_on_telegram(
    tmp_path: Path, bot_api: FakeBotApi, clock: FakeClock
) -> None:
    async with whatsapp_desk(tmp_path, bot_api, clock) as wa:
        texts = await wa.say("halo", 2)
        assert "Selamat datang" in texts[0] and "gratis" in texts[0]
        assert "nomor WhatsApp" in texts[1]  # the notice says the number is received
        notice = wa.graph.sent(WA_ID)[1]
        assert [b["reply"]["title"] for b in notice["interactive"]["action"]["buttons"]] == [
            "Setuju",
            "Tidak setuju",
        ]
        assert await rows(wa.runtime, Stakeholder) == []  # nothing kept before consent
        texts = await wa.press("consent:yes", "Setuju", 1)
        assert "kabar perkembangan" in texts[-1]  # the notifications opt-in
        await wa.press("optin:yes", "Ya, kirimi kabar", 1)
        await wa.say("Siti Rahmawati", 1)
        roles = wa.graph.sent(WA_ID)[-1]["interactive"]
        assert roles["type"] == "list"  # 8 roles: more than 3 buttons
        await wa.press("role:ppk", "PPK", 1)
        await wa.say("123456", 1)
        texts = await wa.say("Satker Contoh", 1)
        assert "+6281234567890" in texts[-1]  # the number WhatsApp gave, to confirm
        texts = await wa.press("phone:use", "Ya, pakai nomor ini", 2)
        assert "Terima kasih, Siti Rahmawati" in texts[-2]
        (stakeholder,) = await rows(wa.runtime, Stakeholder)
        assert (stakeholder.channel, stakeholder.channel_user_id, stakeholder.phone) == (
            "whatsapp",
            WA_ID,
            "+6281234567890",
        )
        assert stakeholder.notifications_opt_in is True

        thread = await wa.hand_off()
        (card,) = in_thread(bot_api, thread)
        assert "Kanal: WhatsApp · jendela 24 jam terbuka s.d." in card
        before = len(wa.graph.sent(WA_ID))
        bot_api.push_group_text(ANDI, GROUP, "/ambil", thread)
        await wa.graph.wait_for_messages(WA_ID, before + 1)
        assert "sedang ditangani oleh petugas CSO Andi CSO" in wa.graph.texts(WA_ID)[-1]
        bot_api.push_group_text(ANDI, GROUP, "Baik Bu, TUP diajukan dengan surat KPA.", thread)
        await wa.graph.wait_for_messages(WA_ID, before + 2)
        assert wa.graph.texts(WA_ID)[-1].endswith("Baik Bu, TUP diajukan dengan surat KPA.")
        await wa.say("terima kasih pak, suratnya ditujukan ke siapa?", 0)
        await bot_api.wait_for(
            lambda: any("ditujukan ke siapa" in t for t in in_thread(bot_api, thread))
        )
        before = len(wa.graph.sent(WA_ID))
        bot_api.push_group_text(ANDI, GROUP, "/selesai Ditujukan kepada Kepala KPPN.", thread)
        await wa.graph.wait_for_messages(WA_ID, before + 2)
        assert any("Kepala KPPN" in t for t in wa.graph.texts(WA_ID)[before:])
        (ticket,) = await rows(wa.runtime, Ticket)
        assert ticket.status == "resolved" and ticket.channel == "whatsapp"
        # Meta reports what happened to each message; the transcript keeps it.
        await wa.graph.flush_statuses()
        await wa.all_processed()
        assert wa.refused() == []  # no message broke a WhatsApp limit
        messages = [
            m for m in await rows(wa.runtime, Message, Message.id) if m.channel == "whatsapp"
        ]
        delivered = [m for m in messages if m.direction == "out" and m.payload.get("statuses")]
        assert delivered, "status callbacks were recorded"
        assert {s["status"] for m in delivered for s in m.payload["statuses"]} >= {
            "sent",
            "delivered",
        }
        keys = [row.key for row in await rows(wa.runtime, InboxUpdate)]
        assert keys and all(WA_ID not in key and "wamid" not in key for key in keys)
        assert all(row.payload == {} for row in await rows(wa.runtime, InboxUpdate))
