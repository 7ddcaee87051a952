"""WhatsApp end to end: the real adapter and httpx against the fake Graph API, the desk on the
fake Telegram Bot API, webhooks posted (signed) to the host's web app over HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.channels.whatsapp import StartupError
from bot.clock import FakeClock
from bot.store.models import Attachment, InboxUpdate, Message, OutboxItem, Stakeholder, Ticket
from bot.transcript import load_transcript, render_markdown
from tests.conftest import rows
from tests.fakes.bot_api import FakeBotApi
from tests.test_desk_e2e import ANDI, GROUP, in_thread
from tests.test_telegram_e2e import USER as TELEGRAM_USER
from tests.whatsapp_harness import BSUID, VERIFY_TOKEN, WA_ID, whatsapp_desk


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
        # A Telegram stakeholder is served by the same process at the same time.
        bot_api.push_text(TELEGRAM_USER, "/start")
        await bot_api.wait_for_messages(TELEGRAM_USER, 2)
        assert "Selamat datang" in bot_api.texts(TELEGRAM_USER)[0]
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
        async with wa.runtime.sessions() as session:
            transcript = await load_transcript(session, wa.runtime.config, ticket.number)
        assert transcript is not None
        markdown = render_markdown(transcript, wa.runtime.config)
        assert "_diterima " in markdown  # the delivery status, as staff read it
        keys = [row.key for row in await rows(wa.runtime, InboxUpdate)]
        assert keys and all(WA_ID not in key and "wamid" not in key for key in keys)
        assert all(row.payload == {} for row in await rows(wa.runtime, InboxUpdate))


def template_names(bodies: list[dict[str, Any]]) -> list[str]:
    return [b["template"]["name"] for b in bodies if b.get("type") == "template"]


async def test_after_30_hours_progress_goes_as_a_template_and_cso_replies_wait_for_the_stakeholder(
    tmp_path: Path, bot_api: FakeBotApi, clock: FakeClock
) -> None:
    async with whatsapp_desk(tmp_path, bot_api, clock) as wa:
        await wa.identify()
        thread = await wa.hand_off()
        before = len(wa.graph.sent(WA_ID))
        bot_api.push_group_text(ANDI, GROUP, "/ambil", thread)
        await wa.graph.wait_for_messages(WA_ID, before + 1)

        clock.advance(hours=30)  # Tuesday 15:00: the 10:00 progress message is due, window shut
        await wa.host.scheduler.run_due()
        await wa.host.drain()
        await wa.graph.wait_for(lambda: template_names(wa.graph.sent(WA_ID)) != [])
        progress = wa.graph.sent(WA_ID)[-1]["template"]
        assert progress["name"] == "csobot_progres_tiket"
        (body,) = progress["components"]
        values = [p["text"] for p in body["parameters"]]
        assert values[0] == "KNS-20261123-0001" and values[1] == "KPPN Pekalongan"
        assert values[3] == "Andi CSO" and "26-11-2026" in values[4]

        # A CSO's reply cannot go as free text now: it waits, announced once by a template.
        bot_api.push_group_text(ANDI, GROUP, "Bu, mohon kirim surat permohonan TUP.", thread)
        await wa.graph.wait_for(
            lambda: template_names(wa.graph.sent(WA_ID))[-1:] == ["csobot_pesan_petugas"]
        )
        bot_api.push_group_text(ANDI, GROUP, "Format suratnya bebas.", thread)
        await wa.all_processed()
        await asyncio.sleep(0.3)
        await wa.host.drain()
        assert template_names(wa.graph.sent(WA_ID)) == [
            "csobot_progres_tiket",
            "csobot_pesan_petugas",
        ]
        held = [i for i in await rows(wa.runtime, OutboxItem) if i.status == "held"]
        assert len(held) == 2
        async with httpx.AsyncClient() as client:
            metrics = (await client.get(wa.url.replace("/whatsapp", "/metrics"))).text
        assert 'csobot_outbox_held{channel="whatsapp"} 2.0' in metrics
        before = len(wa.graph.sent(WA_ID))
        # "Buka pesan": the window opens and the held replies arrive, in order.
        status, _ = await wa.post(wa.graph.template_button(WA_ID, "open", "Buka pesan"))
        assert status == 200
        texts = await wa.graph.wait_for_messages(WA_ID, before + 2)
        assert texts[before].endswith("Bu, mohon kirim surat permohonan TUP.")
        assert texts[before + 1].endswith("Format suratnya bebas.")
        await wa.all_processed()
        assert len(wa.graph.sent(WA_ID)) == before + 2  # no "stale button" for the quick reply
        assert wa.refused() == []
        stored = [m for m in await rows(wa.runtime, Message) if m.payload.get("template")]
        assert [m.payload["template"] for m in stored] == ["csobot_progres_tiket"]


async def test_without_opt_in_nothing_goes_out_of_the_window_until_the_stakeholder_writes(
    tmp_path: Path, bot_api: FakeBotApi, clock: FakeClock
) -> None:
    async with whatsapp_desk(tmp_path, bot_api, clock) as wa:
        await wa.identify(opt_in=False)
        thread = await wa.hand_off()
        clock.advance(hours=30)
        await wa.host.scheduler.run_due()
        bot_api.push_group_text(ANDI, GROUP, "Mohon ditunggu, Bu.", thread)
        await wa.all_processed()
        await asyncio.sleep(0.3)
        await wa.host.drain()
        before = len(wa.graph.sent(WA_ID))
        assert template_names(wa.graph.sent(WA_ID)) == []
        await wa.say("pak, bagaimana kabarnya?", 2)
        await wa.graph.wait_for(
            lambda: any(t.endswith("Mohon ditunggu, Bu.") for t in wa.graph.texts(WA_ID))
        )
        texts = wa.graph.texts(WA_ID)[before:]
        progress = [t for t in texts if t.startswith("Kabar perkembangan tiket KNS-20261123-0001")]
        assert len(progress) == 1
        assert texts.index(progress[0]) < len(texts) - 1  # held in order: progress came first


async def test_delivery_failures_retry_reroute_or_tell_the_cso(
    tmp_path: Path, bot_api: FakeBotApi, clock: FakeClock
) -> None:
    async with whatsapp_desk(tmp_path, bot_api, clock) as wa:
        await wa.identify()
        thread = await wa.hand_off()
        # Throughput limit: the message waits and goes out on the next attempt.
        wa.graph.fail(130429)
        before = len(wa.graph.sent(WA_ID))
        bot_api.push_group_text(ANDI, GROUP, "/ambil", thread)
        await wa.graph.wait_for(lambda: any(r.error_code == 130429 for r in wa.graph.requests))
        await wa.advance_until(lambda: len(wa.graph.sent(WA_ID)) >= before + 1)
        # A server error: the same.
        wa.graph.fail(131000, http_status=500)
        bot_api.push_group_text(ANDI, GROUP, "Jawaban pertama.", thread)
        await wa.graph.wait_for(lambda: any(r.error_code == 131000 for r in wa.graph.requests))
        await wa.advance_until(lambda: len(wa.graph.sent(WA_ID)) >= before + 2)
        # Undeliverable for good: the row fails and the CSO reads it in the topic.
        wa.graph.fail(131026)
        bot_api.push_group_text(ANDI, GROUP, "Jawaban kedua.", thread)
        await bot_api.wait_for(
            lambda: any("tidak terkirim" in t for t in in_thread(bot_api, thread))
        )
        notice = next(t for t in in_thread(bot_api, thread) if "tidak terkirim" in t)
        assert "131026" in notice and "Jawaban kedua." in notice
        # Meta's idea of the window can differ from ours (a reply read on another device):
        # an accepted message later reported failed with 131047 takes the template path.
        wa.graph._last_inbound.clear()
        bot_api.push_group_text(ANDI, GROUP, "Jawaban ketiga.", thread)
        await wa.graph.wait_for(lambda: bool(wa.graph.pending_statuses))
        await wa.graph.flush_statuses()
        await wa.graph.wait_for(
            lambda: template_names(wa.graph.sent(WA_ID))[-1:] == ["csobot_pesan_petugas"]
        )
        message = next(m for m in await rows(wa.runtime, Message) if m.text.endswith("ketiga."))

        async def held() -> bool:
            items = await rows(wa.runtime, OutboxItem)
            return any(i.message_id == message.id and i.status == "held" for i in items)

        for _ in range(200):
            if await held():
                break
            await asyncio.sleep(0.02)
        assert await held()
        message = next(m for m in await rows(wa.runtime, Message) if m.id == message.id)
        assert [s["status"] for s in message.payload["statuses"]] == ["failed"]
        assert "131047" in message.payload["statuses"][0]["error"]
        before = len(wa.graph.sent(WA_ID))
        await wa.say("ya pak?", 1)
        assert wa.graph.texts(WA_ID)[before].endswith("Jawaban ketiga.")


async def test_verification_and_signatures_guard_the_webhook(
    tmp_path: Path, bot_api: FakeBotApi, clock: FakeClock
) -> None:
    async with whatsapp_desk(tmp_path, bot_api, clock) as wa:
        assert await wa.graph.verify(wa.url, token=VERIFY_TOKEN, challenge="8172") == (200, "8172")
        assert (await wa.graph.verify(wa.url, token="salah"))[0] == 403
        assert (await wa.graph.verify(wa.url, mode="unsubscribe", token=VERIFY_TOKEN))[0] == 403
        payload = wa.graph.text(WA_ID, "halo")
        assert (await wa.post(payload, signature="missing"))[0] == 401
        assert (await wa.post(payload, signature="wrong"))[0] == 403
        tampered = json.dumps(payload).replace("halo", "hal0").encode()
        async with httpx.AsyncClient() as client:
            forged = await client.post(
                wa.url,
                content=tampered,
                headers={"X-Hub-Signature-256": wa.graph.sign(json.dumps(payload).encode())},
            )
        assert forged.status_code == 403
        assert await rows(wa.runtime, InboxUpdate) == []  # nothing stored, nothing sent
        assert wa.graph.sent(WA_ID) == []
        assert (await wa.post(b"{not json"))[0] == 400


async def test_batched_and_redelivered_webhooks_are_handled_once_each(
    tmp_path: Path, bot_api: FakeBotApi, clock: FakeClock
) -> None:
    other = "6285600001111"
    async with whatsapp_desk(tmp_path, bot_api, clock) as wa:
        batch = wa.graph.batch(
            wa.graph.text(WA_ID, "halo"),
            wa.graph.text(other, "selamat pagi", user_id=BSUID, name="Budi"),
            wa.graph.text(WA_ID, "permisi"),
        )
        assert (await wa.post(batch))[0] == 200
        await wa.all_processed()
        # Each message of the POST was handled: both people got the notice, the first twice.
        assert len(wa.graph.sent(WA_ID)) == 4
        assert len(wa.graph.sent(BSUID)) == 2
        assert all("recipient" in body and "to" not in body for body in wa.graph.sent(BSUID))
        assert (await wa.post(batch))[0] == 200  # Meta delivers it again
        await wa.all_processed()
        assert (len(wa.graph.sent(WA_ID)), len(wa.graph.sent(BSUID))) == (4, 2)
        stored = await rows(wa.runtime, InboxUpdate)
        assert len(stored) == 3
        for row in stored:  # no phone number, no message id (which embeds one) in any key
            assert WA_ID not in row.key + row.sender and other not in row.key + row.sender
            assert "wamid" not in row.key and row.payload == {}
        assert [m for m in await rows(wa.runtime, Message) if m.channel == "whatsapp"] == []
        assert await rows(wa.runtime, Stakeholder) == []
        # Another batch with entries of their own, a status among them: all processed.
        await wa.identify()
        await wa.all_processed()
        sent = [
            i
            for i in await rows(wa.runtime, OutboxItem, OutboxItem.id)
            if i.channel == "whatsapp" and i.status == "sent"
        ]
        last = sent[-1].platform_message_id
        assert last is not None and last.startswith("wamid.")
        batch = wa.graph.batch(
            wa.graph.status(last, WA_ID, "read"),
            wa.graph.text(WA_ID, "/status"),
            one_change=False,
        )
        before = len(wa.graph.sent(WA_ID))
        assert (await wa.post(batch))[0] == 200
        await wa.graph.wait_for_messages(WA_ID, before + 1)
        await wa.all_processed()
        read = [m for m in await rows(wa.runtime, Message) if m.payload.get("statuses")]
        assert [s["status"] for m in read for s in m.payload["statuses"]] == ["read"]


async def test_a_new_number_or_a_business_scoped_id_keeps_the_stakeholder(
    tmp_path: Path, bot_api: FakeBotApi, clock: FakeClock
) -> None:
    new_number = "6281111111111"
    new_bsuid = "ID.9876543210987"
    async with whatsapp_desk(tmp_path, bot_api, clock) as wa:
        await wa.identify()
        # Meta starts sending the business-scoped id: the same person, now sent to by BSUID.
        assert (await wa.post(wa.graph.text(WA_ID, "status", user_id=BSUID)))[0] == 200
        texts = await wa.graph.wait_for_messages(BSUID, 1)
        assert "tidak memiliki tiket" in texts[-1]
        (stakeholder,) = await rows(wa.runtime, Stakeholder)
        assert stakeholder.channel_user_id == BSUID and stakeholder.chat_id == BSUID
        assert wa.graph.sent(BSUID)[-1]["recipient"] == BSUID
        # A new number: Meta says so with a system message; a new BSUID comes with it.
        change = wa.graph.number_change(
            WA_ID, new_number, old_user_id=BSUID, new_user_id=new_bsuid
        )
        assert (await wa.post(change))[0] == 200
        await wa.all_processed()
        (stakeholder,) = await rows(wa.runtime, Stakeholder)
        assert (stakeholder.channel_user_id, stakeholder.phone) == (new_bsuid, "+6281111111111")
        before = len(wa.graph.sent(new_bsuid))
        assert (await wa.post(wa.graph.text(new_number, "profil", user_id=new_bsuid)))[0] == 200
        texts = await wa.graph.wait_for_messages(new_bsuid, before + 1)
        assert "Siti Rahmawati" in texts[before]  # the same stakeholder: no consent asked again
        long_id = "ID." + "7" * 137  # ids of up to ~140 characters fit every column
        assert (await wa.post(wa.graph.text(None, "halo", user_id=long_id)))[0] == 200
        await wa.graph.wait_for_messages(long_id, 2)
        await wa.press("consent:yes", "Setuju", 1, who=long_id)
        assert any(s.channel_user_id == long_id for s in await rows(wa.runtime, Stakeholder))


async def test_a_number_is_joined_to_its_business_scoped_id_once_not_on_every_message(
    tmp_path: Path, bot_api: FakeBotApi, clock: FakeClock
) -> None:
    async with whatsapp_desk(tmp_path, bot_api, clock) as wa:
        joins: list[tuple[str, str]] = []
        join = wa.host.identity_changed

        async def counted(channel: str, old: str, new: str, *args: Any, **kwargs: Any) -> None:
            joins.append((old, new))
            await join(channel, old, new, *args, **kwargs)

        setattr(wa.host, "identity_changed", counted)  # noqa: B010 - counted, then passed on
        await wa.identify()
        for text in ("status", "/bantuan", "status"):
            assert (await wa.post(wa.graph.text(WA_ID, text, user_id=BSUID)))[0] == 200
        await wa.all_processed()
        assert joins == [(WA_ID, BSUID)]
        # By number alone again (a new stakeholder could be made under it): checked again.
        assert (await wa.post(wa.graph.text(WA_ID, "status")))[0] == 200
        assert (await wa.post(wa.graph.text(WA_ID, "status", user_id=BSUID)))[0] == 200
        await wa.all_processed()
        assert joins == [(WA_ID, BSUID), (WA_ID, BSUID)]
        (stakeholder,) = await rows(wa.runtime, Stakeholder)
        assert stakeholder.channel_user_id == BSUID


async def test_odd_input_gets_the_same_clear_replies(
    tmp_path: Path, bot_api: FakeBotApi, clock: FakeClock
) -> None:
    async with whatsapp_desk(tmp_path, bot_api, clock) as wa:
        await wa.identify()
        unsupported = "Maaf, jenis pesan ini belum dapat kami proses"
        media = wa.graph.add_media(b"OggS-voice", "audio/ogg")
        for payload in (
            wa.graph.voice(WA_ID, media),
            wa.graph.sticker(WA_ID, media),
            wa.graph.location(WA_ID),
            wa.graph.unsupported(WA_ID),
            wa.graph.reaction(WA_ID, wa.graph.last_message_id or "wamid.x", "👍"),
        ):
            before = len(wa.graph.sent(WA_ID))
            assert (await wa.post(payload))[0] == 200
            texts = await wa.graph.wait_for_messages(WA_ID, before + 1)
            assert texts[-1].startswith(unsupported)
        # A stale button (an old message's choice) gets the stale-button reply.
        before = len(wa.graph.sent(WA_ID))
        assert (await wa.post(wa.graph.button_reply(WA_ID, "answer:999:yes", "Ya")))[0] == 200
        texts = await wa.graph.wait_for_messages(WA_ID, before + 1)
        assert "tidak" in texts[-1].lower()
        # Commands typed with or without the slash.
        for typed in ("/bantuan", "bantuan", "Status"):
            before = len(wa.graph.sent(WA_ID))
            texts = await wa.say(typed, 1)
            assert "tidak dikenal" not in texts[-1]


async def test_a_rejected_access_token_is_a_configuration_error(
    tmp_path: Path, bot_api: FakeBotApi, clock: FakeClock
) -> None:
    with pytest.raises(StartupError, match="WHATSAPP_ACCESS_TOKEN"):
        async with whatsapp_desk(tmp_path, bot_api, clock, token="expired-token"):
            pass


async def test_media_both_ways_between_whatsapp_and_the_desk_topic(
    tmp_path: Path, bot_api: FakeBotApi, clock: FakeClock
) -> None:
    photo = b"\xff\xd8\xff\xe0 foto SPM yang ditolak"
    async with whatsapp_desk(tmp_path, bot_api, clock) as wa:
        await wa.identify()
        thread = await wa.hand_off()
        media_id = wa.graph.add_media(photo, "image/jpeg")
        wa.graph.fail_media()  # the first download fails: the inbox tries again
        before = len(wa.graph.sent(WA_ID))
        assert (await wa.post(wa.graph.image(WA_ID, media_id, caption="SPM saya ditolak")))[
            0
        ] == 200
        await wa.advance_until(  # past the inbox's backoff
            lambda: any(
                str(r.params.get("message_thread_id")) == str(thread)
                for r in bot_api.sent("sendDocument")
            )
        )
        (attachment,) = await rows(wa.runtime, Attachment)
        assert attachment.sha256 == hashlib.sha256(photo).hexdigest()
        assert attachment.direction == "in" and attachment.file_type == "jpg"
        await wa.graph.wait_for_messages(WA_ID, before + 1)
        assert "Diterima" in wa.graph.texts(WA_ID)[-1] or "diterima" in wa.graph.texts(WA_ID)[-1]
        # A CSO's document in the topic reaches WhatsApp as uploaded media, sent by its id.
        before = len(wa.graph.sent(WA_ID))
        bot_api.push_group_text(ANDI, GROUP, "/ambil", thread)
        await wa.graph.wait_for_messages(WA_ID, before + 1)
        bot_api.push_document(
            ANDI,
            "contoh surat.pdf",
            b"%PDF-1.4 contoh surat",
            chat_id=GROUP,
            thread_id=thread,
            caption="contoh suratnya",
        )
        await wa.graph.wait_for(
            lambda: any(b.get("type") == "document" for b in wa.graph.sent(WA_ID))
        )
        document = next(b for b in wa.graph.sent(WA_ID) if b.get("type") == "document")
        content, mime = wa.graph.uploaded[document["document"]["id"]]
        assert (content, mime) == (b"%PDF-1.4 contoh surat", "application/pdf")
        assert document["document"]["filename"] == "contoh surat.pdf"
        assert "contoh suratnya" in document["document"].get("caption", "")
        assert wa.refused() == []
