"""Texts over Telegram's limits are sent in parts: the splitter, the sender, the whole stack."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select
from telegram.error import BadRequest

from bot.buttons import action
from bot.channels.telegram import TelegramChannel
from bot.clock import FakeClock
from bot.host import Host
from bot.messages import Button, Outbound, OutgoingFile
from bot.runtime import Runtime
from bot.store.models import Message, OutboxItem, Stakeholder, Ticket
from bot.text_limits import (
    TELEGRAM_CAPTION_LIMIT,
    TELEGRAM_TEXT_LIMIT,
    split_text,
    utf16_length,
)
from tests.conftest import rows
from tests.fakes.bot_api import FakeBotApi, Request
from tests.test_desk_e2e import ANDI, GROUP, handed_off_tup_ticket, in_thread, staff_says, start
from tests.test_telegram_e2e import USER, identify, say, start_bot, stop_bot

# ---- helpers --------------------------------------------------------------------------------


def squeeze(text: str) -> str:
    """The text without any whitespace: what survives whatever a split drops."""
    return "".join(text.split())


def assert_faithful(text: str, parts: list[str], limit: int) -> None:
    """Parts within the limit, none empty, and `text` is exactly the parts in order with only
    whitespace before, between and after them (the boundary whitespace a split drops)."""
    assert parts, "no parts"
    rest = text
    for part in parts:
        assert part and part == part.strip(), repr(part[:40])
        assert utf16_length(part) <= limit, utf16_length(part)
        skipped = len(rest) - len(rest.lstrip())
        assert rest[skipped:].startswith(part), f"out of order or changed: {part[:40]!r}"
        rest = rest[skipped + len(part) :]
    assert rest.strip() == ""
    assert squeeze("".join(parts)) == squeeze(text)


def paragraph(number: int, words: int) -> str:
    return f"Paragraf {number}: " + " ".join(f"kata{number}-{i}" for i in range(words)) + "."


# ---- split_text -----------------------------------------------------------------------------


def test_a_text_within_the_limit_is_one_unchanged_part() -> None:
    assert split_text("  Halo,\n\nBapak/Ibu  ", 100) == ["  Halo,\n\nBapak/Ibu  "]
    assert split_text("x" * TELEGRAM_TEXT_LIMIT, TELEGRAM_TEXT_LIMIT) == [
        "x" * TELEGRAM_TEXT_LIMIT
    ]
    assert split_text("😀" * 2048, TELEGRAM_TEXT_LIMIT) == ["😀" * 2048]  # exactly 4,096 units
    assert split_text("", 10) == []


def test_paragraphs_are_kept_together_while_they_fit() -> None:
    first, second, third = "a" * 40, "b" * 40, "c" * 40
    text = f"{first}\n\n{second}\n\n{third}"
    parts = split_text(text, 90)
    assert parts == [f"{first}\n\n{second}", third]
    assert "\n\n".join(parts) == text  # joined with the separator that was cut: the text again


def test_a_long_paragraph_is_cut_between_its_lines() -> None:
    lines = [f"baris {i:02d} " + "x" * 20 for i in range(10)]  # 29 characters each
    text = "Pembuka.\n\n" + "\n".join(lines) + "\n\nPenutup."
    parts = split_text(text, 70)
    assert parts == [
        "Pembuka.",
        "\n".join(lines[0:2]),
        "\n".join(lines[2:4]),
        "\n".join(lines[4:6]),
        "\n".join(lines[6:8]),
        "\n".join(lines[8:10]),
        "Penutup.",
    ]
    assert_faithful(text, parts, 70)


def test_a_long_line_is_cut_between_words() -> None:
    text = " ".join(f"kata{i:03d}" for i in range(100))  # 7 characters a word
    parts = split_text(text, 50)
    assert all(len(part) <= 50 for part in parts)
    assert parts[0] == " ".join(f"kata{i:03d}" for i in range(6))  # 6 words: 47 characters
    assert " ".join(parts) == text
    assert_faithful(text, parts, 50)


def test_only_a_single_huge_word_is_cut_in_the_middle() -> None:
    word = "x" * 250
    assert split_text(word, 100) == ["x" * 100, "x" * 100, "x" * 50]
    text = f"awal {word} akhir"
    parts = split_text(text, 100)
    assert parts == ["awal", "x" * 100, "x" * 100, "x" * 50, "akhir"]
    assert_faithful(text, parts, 100)


def test_length_is_counted_in_utf16_units() -> None:
    text = "😀" * 3000  # 3,000 characters but 6,000 UTF-16 units
    assert len(text) < TELEGRAM_TEXT_LIMIT < utf16_length(text) == 6000
    parts = split_text(text, TELEGRAM_TEXT_LIMIT)
    assert parts == ["😀" * 2048, "😀" * 952]
    assert_faithful(text, parts, TELEGRAM_TEXT_LIMIT)
    assert split_text("😀" * 2048 + "x", TELEGRAM_TEXT_LIMIT) == ["😀" * 2048, "x"]
    assert split_text("a😀b", 2) == ["a", "😀", "b"]  # a surrogate pair is never broken


def test_emoji_heavy_indonesian_text() -> None:
    text = "\n\n".join(
        f"🎫 Tiket {i}: 👤 Bapak/Ibu 🙏 terima kasih 😀😀😀 atas pertanyaannya 📄✅"
        for i in range(200)
    )
    parts = split_text(text, TELEGRAM_TEXT_LIMIT)
    assert len(parts) > 1
    assert_faithful(text, parts, TELEGRAM_TEXT_LIMIT)
    assert all(part.startswith("🎫 Tiket") for part in parts)  # cut between paragraphs only


def test_boundary_whitespace_is_what_is_dropped() -> None:
    text = "  satu\n\n\n  dua  \n\n tiga  "
    parts = split_text(text, 8)
    assert parts == ["satu", "dua", "tiga"]
    assert_faithful(text, parts, 8)
    assert split_text("a" * 5 + " " * 20 + "b" * 5, 6) == ["a" * 5, "b" * 5]  # no blank parts


def test_random_texts_are_split_faithfully() -> None:
    rng = random.Random(20261123)
    alphabet = ["kata", "Rp1.000.000", "😀", "👍🏽", "é", "\n", "\n\n", " ", "  ", "\t", "🇮🇩"]
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 400)))
        limit = rng.choice([2, 3, 7, 16, 50, 200])
        parts = split_text(text, limit)
        if text.strip() == "":
            assert parts in ([], [text])
            continue
        if utf16_length(text) <= limit:
            assert parts == [text]
        else:
            assert_faithful(text, parts, limit)


def test_a_limit_that_cannot_hold_an_emoji_is_refused() -> None:
    with pytest.raises(ValueError):
        split_text("abc", 1)


# ---- the fake Bot API behaves like Telegram ------------------------------------------------


@pytest.fixture
async def bot(
    tmp_path: Path, bot_api: FakeBotApi, clock: FakeClock
) -> AsyncIterator[tuple[Runtime, Host]]:
    runtime, host = await start_bot(tmp_path, bot_api, clock)
    yield runtime, host
    await stop_bot(runtime, host)


def telegram(host: Host) -> TelegramChannel:
    (channel,) = host.channels
    assert isinstance(channel, TelegramChannel)
    return channel


async def test_the_fake_refuses_over_long_texts_and_captions(
    bot: tuple[Runtime, Host], bot_api: FakeBotApi
) -> None:
    ptb = telegram(bot[1]).application.bot
    with pytest.raises(BadRequest, match="too long"):
        await ptb.send_message(chat_id=USER, text="x" * 4097)
    with pytest.raises(BadRequest, match="too long"):
        await ptb.send_message(chat_id=USER, text="😀" * 2049)  # 2,049 characters, 4,098 units
    await ptb.send_message(chat_id=USER, text="😀" * 2048)
    with pytest.raises(BadRequest, match="caption is too long"):
        await ptb.send_document(
            chat_id=USER, document=b"%PDF", filename="a.pdf", caption="x" * 1025
        )
    with pytest.raises(BadRequest, match="caption is too long"):
        await ptb.copy_message(chat_id=USER, from_chat_id=GROUP, message_id=1, caption="😀" * 513)
    refused = [r for r in bot_api.requests if r.failed]
    assert [r.method for r in refused] == [
        "sendMessage",
        "sendMessage",
        "sendDocument",
        "copyMessage",
    ]
    assert len(bot_api.sent("sendMessage", USER)) == 1


# ---- the sender -----------------------------------------------------------------------------


def long_text(paragraphs: int = 45, words: int = 20) -> str:
    return "\n\n".join(paragraph(number, words) for number in range(1, paragraphs + 1))


def texts(requests: list[Request]) -> list[str]:
    return [str(r.params["text"]) for r in requests]


async def test_buttons_go_on_the_last_part_only(
    bot: tuple[Runtime, Host], bot_api: FakeBotApi
) -> None:
    sender = telegram(bot[1]).sender
    text = long_text()
    assert utf16_length(text) > 2 * TELEGRAM_TEXT_LIMIT
    outbound = Outbound(
        text, buttons=(Button("Ya, terjawab", action("answer", 1, "yes")), Button("Belum"))
    )
    message_id = await sender.send(str(USER), outbound)
    sent = bot_api.sent("sendMessage", USER)
    assert len(sent) == 3
    assert_faithful(text, texts(sent), TELEGRAM_TEXT_LIMIT)
    assert [r.params.get("reply_markup") for r in sent[:-1]] == [None, None]
    assert sent[-1].params["reply_markup"]["keyboard"] == [
        [{"text": "Ya, terjawab"}],
        [{"text": "Belum"}],
    ]
    assert message_id == str(sent[-1].params["_result"]["message_id"])

    inline = Outbound(text, buttons=(Button("Ya, terjawab", action("answer", 1, "yes")),))
    await sender.send(str(USER), inline)
    again = bot_api.sent("sendMessage", USER)[3:]
    assert [r.params.get("reply_markup") for r in again[:-1]] == [None, None]
    assert again[-1].params["reply_markup"] == {
        "inline_keyboard": [[{"text": "Ya, terjawab", "callback_data": "answer:1:yes"}]]
    }


async def test_a_caption_too_long_goes_before_the_file_as_text(
    bot: tuple[Runtime, Host], bot_api: FakeBotApi, tmp_path: Path
) -> None:
    runtime, host = bot
    (runtime.settings.csobot_data_dir / "laporan.pdf").write_bytes(b"%PDF laporan")
    sender = telegram(host).sender
    caption = long_text(paragraphs=6)
    assert TELEGRAM_CAPTION_LIMIT < utf16_length(caption) < TELEGRAM_TEXT_LIMIT
    file = OutgoingFile("laporan.pdf", "laporan.pdf")
    message_id = await sender.send(str(USER), Outbound(caption, file=file))
    assert [r.method for r in bot_api.requests if r.method.startswith("send")] == [
        "sendMessage",
        "sendDocument",
    ]
    assert texts(bot_api.sent("sendMessage", USER)) == [caption]
    (document,) = bot_api.sent("sendDocument", USER)
    assert not document.params.get("caption")
    assert document.params["_upload"] == ("laporan.pdf", b"%PDF laporan")
    assert message_id != str(bot_api.sent("sendMessage", USER)[0].params["_result"]["message_id"])

    await sender.send(str(USER), Outbound("Laporan 😀", file=file))  # a short caption stays
    assert bot_api.sent("sendDocument", USER)[-1].params["caption"] == "Laporan 😀"
    assert len(bot_api.sent("sendMessage", USER)) == 1


async def test_a_long_desk_header_before_a_copied_file_is_split(
    bot: tuple[Runtime, Host], bot_api: FakeBotApi
) -> None:
    sender = telegram(bot[1]).sender
    header = long_text(paragraphs=25)
    assert utf16_length(header) > TELEGRAM_TEXT_LIMIT
    file = OutgoingFile(None, "foto.jpg", ("telegram", str(USER), "123"))
    await sender.send(str(GROUP), Outbound(header, file=file, desk_ticket_id=1), "500")
    calls = [r for r in bot_api.requests if r.method in {"sendMessage", "copyMessage"}]
    assert [r.method for r in calls] == ["sendMessage", "sendMessage", "copyMessage"]
    assert all(r.params["message_thread_id"] == "500" for r in calls)
    assert_faithful(header, texts(calls[:2]), TELEGRAM_TEXT_LIMIT)


# ---- end to end ---------------------------------------------------------------------------


async def settled(runtime: Runtime, timeout: float = 10.0) -> list[OutboxItem]:
    """The outbox once nothing is pending or being sent."""
    for _ in range(int(timeout / 0.02)):
        outbox = await rows(runtime, OutboxItem)
        if all(item.status in {"sent", "failed"} for item in outbox):
            return outbox
        await asyncio.sleep(0.02)
    raise AssertionError("the outbox did not settle")


async def stored(runtime: Runtime, needle: str) -> str:
    """The stored outgoing message containing `needle`: the text that was to be delivered."""
    (text,) = [
        m.text
        for m in await rows(runtime, Message, Message.id)
        if m.direction == "out" and needle in m.text
    ]
    return text


async def test_a_long_question_reaches_the_desk_topic_in_parts(
    tmp_path: Path, bot_api: FakeBotApi, clock: FakeClock
) -> None:
    runtime, host = await start(tmp_path, bot_api, clock)
    try:
        await identify(bot_api)
        question = "\n\n".join(
            f"({i}) Bagaimana prosedur mutasi pegawai antar kementerian lembaga bila pegawai "
            f"tersebut masih menjadi bendahara pengeluaran dan belum menyerahkan LPJ bulan {i}?"
            for i in range(1, 26)
        )
        assert 3800 < len(question) <= 4000  # accepted from the stakeholder…
        await say(bot_api, question, 2)
        await bot_api.wait_for(lambda: bool(bot_api.sent("createForumTopic")))
        outbox = await settled(runtime)
        card = await stored(runtime, "🎫")
        assert utf16_length(card) > TELEGRAM_TEXT_LIMIT  # …but the card quoting it is too long
        parts = in_thread(bot_api, 500)
        assert len(parts) >= 2
        assert_faithful(card, parts, TELEGRAM_TEXT_LIMIT)
        assert "(25) Bagaimana" in parts[-1] and "/ambil" in parts[-1]
        assert not [r for r in bot_api.requests if r.failed]
        assert {item.status for item in outbox} == {"sent"}
    finally:
        await host.stop()
        await runtime.close()


async def test_a_long_cso_reply_reaches_the_stakeholder_in_order(
    tmp_path: Path, bot_api: FakeBotApi, clock: FakeClock
) -> None:
    runtime, host = await start(tmp_path, bot_api, clock)
    try:
        thread = await handed_off_tup_ticket(bot_api)
        before = len(bot_api.texts(USER))
        await staff_says(
            bot_api, ANDI, "/ambil", thread, lambda: len(bot_api.texts(USER)) > before
        )
        reply = "\n".join(
            f"{i}. Langkah ke-{i}: siapkan surat permohonan TUP yang ditandatangani KPA, "
            f"rincian rencana penggunaan dana, dan pernyataan sisa UP. 📄"
            for i in range(1, 41)
        )
        assert 5000 < len(reply) < 6000
        start_at = len(bot_api.texts(USER))
        bot_api.push_group_text(ANDI, GROUP, reply, thread)
        await bot_api.wait_for(lambda: any("40. Langkah" in t for t in bot_api.texts(USER)))
        outbox = await settled(runtime)
        expected = "👤 Petugas CSO KPPN Pekalongan:\n" + reply
        assert await stored(runtime, "1. Langkah ke-1") == expected
        parts = bot_api.texts(USER)[start_at:]
        assert len(parts) == 2 and parts[0].startswith("👤 Petugas CSO KPPN Pekalongan:\n1.")
        assert_faithful(expected, parts, TELEGRAM_TEXT_LIMIT)
        numbers = [int(line.split(".")[0]) for part in parts for line in part.splitlines()[1:]]
        assert numbers[:3] == [1, 2, 3] and numbers == sorted(numbers)
        assert not [r for r in bot_api.requests if r.failed]
        assert "failed" not in {item.status for item in outbox}
    finally:
        await host.stop()
        await runtime.close()


async def test_status_with_many_open_tickets_arrives_complete(
    bot: tuple[Runtime, Host], bot_api: FakeBotApi
) -> None:
    runtime, _ = bot
    await identify(bot_api)
    async with runtime.sessions() as session:
        (stakeholder,) = (await session.exec(select(Stakeholder))).all()
        assert stakeholder.id is not None
        now = runtime.clock.now()
        for number in range(1, 31):
            session.add(
                Ticket(
                    number=f"KNS-20261123-{number:04d}",
                    office=runtime.config.office,
                    stakeholder_id=stakeholder.id,
                    channel="telegram",
                    status="queued",
                    question=f"Pertanyaan nomor {number} tentang pengajuan TUP dan "
                    "sisa UP satker yang belum dipertanggungjawabkan bulan lalu",
                    opened_at=now,
                    updated_at=now,
                    deadline_at=now + timedelta(days=3),
                )
            )
        await session.commit()
    before = len(bot_api.texts(USER))
    bot_api.push_text(USER, "/status")
    await bot_api.wait_for(lambda: any("KNS-20261123-0030" in t for t in bot_api.texts(USER)))
    outbox = await settled(runtime)
    expected = await stored(runtime, "KNS-20261123-0030")
    assert utf16_length(expected) > TELEGRAM_TEXT_LIMIT
    parts = bot_api.texts(USER)[before:]
    assert len(parts) >= 2 and parts[0].startswith("Tiket Bapak/Ibu yang sedang diproses:")
    assert_faithful(expected, parts, TELEGRAM_TEXT_LIMIT)
    numbers = [f"KNS-20261123-{n:04d}" for n in range(1, 31)]
    joined = "\n".join(parts)
    assert [joined.index(n) for n in numbers] == sorted(joined.index(n) for n in numbers)
    assert "failed" not in {item.status for item in outbox}
    assert not [r for r in bot_api.requests if r.failed]


async def test_an_unknown_long_command_is_echoed_in_parts(
    bot: tuple[Runtime, Host], bot_api: FakeBotApi
) -> None:
    runtime, _ = bot
    await identify(bot_api)
    before = len(bot_api.texts(USER))
    bot_api.push_text(USER, "/" + "a" * 4500)
    await bot_api.wait_for(lambda: any("tidak dikenal" in t for t in bot_api.texts(USER)))
    outbox = await settled(runtime)
    expected = await stored(runtime, "tidak dikenal")
    parts = bot_api.texts(USER)[before:]
    assert len(parts) >= 2
    assert_faithful(expected, parts, TELEGRAM_TEXT_LIMIT)
    assert "failed" not in {item.status for item in outbox}
