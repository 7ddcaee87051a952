"""Knowledge a KPPN can stand behind: unverified entries are never presented as settled, answers
lead with the direct answer, reviewers see what to check, and the desk's answers become
candidate knowledge only through a person's review."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.clock import FakeClock
from bot.config import load_config
from bot.knowledge import Decision, KnowledgeError, Matcher, load_knowledge
from bot.knowledge.normalise import Normaliser
from bot.knowledge.review import needs_review, render_review, warnings
from bot.knowledge.suggest import (
    Resolution,
    apply_examples,
    desk_resolutions,
    render_yaml,
    suggest,
)
from bot.report import build_report
from bot.runtime import Runtime, build_runtime
from bot.store.models import Ticket
from tests.conftest import (
    FIXTURE_KB,
    ROOT,
    TEST_MATCHER,
    FakeChat,
    config_for_tests,
    make_settings,
    texts_to,
)
from tests.fakes.bot_api import FakeBotApi
from tests.test_cli import run
from tests.test_supervision import STAFF, staff
from tests.test_telegram_e2e import USER, identify, press, say, start_bot

SECTIONS = ("pencairan", "mski", "bank", "vera", "umum")
LONG_DETAILS = "\n".join(
    f"{n}. Langkah ke-{n}: siapkan dokumen pendukung dan periksa datanya di SAKTI sebelum dikirim."
    for n in range(1, 9)
)


def knowledge_copy(tmp_path: Path, **changes: Any) -> Path:
    """The fixture knowledge base with some entries changed (by id)."""
    directory = tmp_path / "kb"
    shutil.copytree(FIXTURE_KB, directory)
    for path in directory.glob("[!_]*.yaml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for entry in data["entries"]:
            entry.update(changes.get(entry["id"], {}))
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    return directory


UNVERIFIED_TUP = {
    "verified": False,
    "verify": "Batas 1 bulan penggunaan TUP: periksa pasal PMK yang berlaku.",
}


async def runtime_for(tmp_path: Path, clock: FakeClock, kb: Path, **config: Any) -> Runtime:
    settings = make_settings(
        tmp_path,
        csobot_knowledge_dir=kb,
        csobot_config=config_for_tests(tmp_path, staff=STAFF, **config),
    )
    return await build_runtime(settings, clock=clock)


async def test_an_unverified_entry_is_sent_as_provisional_and_handed_to_a_cso(
    tmp_path: Path, clock: FakeClock
) -> None:
    runtime = await runtime_for(
        tmp_path, clock, knowledge_copy(tmp_path, **{"tup-pengajuan": UNVERIFIED_TUP})
    )
    try:
        chat = FakeChat(runtime)
        await chat.identify()
        await chat.send("bagaimana cara mengajukan tup?")
        answer = chat.replies[-1]
        assert answer.text.startswith("⚠️ Jawaban sementara")
        assert "TUP harus digunakan" in answer.text
        assert "mengonfirmasi atau mengoreksi" in answer.text
        assert "sudah terjawab" not in answer.text and answer.buttons == ()
        ticket = await chat.ticket()
        assert (ticket.status, ticket.topic_id, ticket.first_answer_at) == (
            "queued",
            "tup-pengajuan",
            None,
        )
        card = "\n".join(await texts_to(runtime, "8001"))
        assert "Usulan dari knowledge base: tup-pengajuan" in card
        assert "jawaban sementara sudah terkirim" in card

        # The CSO confirms it with /jawab: now it is an answer the stakeholder can confirm.
        await runtime.engine.handle(staff("8001", f"/ambil {ticket.id}", "t1"))
        await runtime.engine.handle(staff("8001", "/jawab tup-pengajuan", "t2"))
        confirmed = (await texts_to(runtime, chat.user_id))[-1]
        assert confirmed.startswith("Pengajuan Tambahan UP (TUP)")
        assert "sudah terjawab?" in confirmed
        await chat.press_data(f"answer:{ticket.id}:yes")
        assert "Resolved" in chat.text
        async with runtime.sessions() as session:
            report = await build_report(
                session, runtime.config, None, date(2026, 11, 23), date(2026, 11, 24), clock.now()
            )
        assert report.figures()["answers_from_unverified_entries"] == 1
        async with runtime.sessions() as session:
            learned = await desk_resolutions(session, None)
        assert [(r.question, r.topic) for r in learned] == [
            ("bagaimana cara mengajukan tup?", "tup-pengajuan")
        ]
    finally:
        await runtime.close()


async def test_the_card_of_a_reopened_ticket_no_longer_offers_a_confirmed_suggestion(
    tmp_path: Path, clock: FakeClock
) -> None:
    runtime = await runtime_for(
        tmp_path, clock, knowledge_copy(tmp_path, **{"tup-pengajuan": UNVERIFIED_TUP})
    )

    async def cards() -> list[str]:
        return [t for t in await texts_to(runtime, "8001") if "Pertanyaan:" in t]

    try:
        chat = FakeChat(runtime)
        await chat.identify()
        await chat.send("bagaimana cara mengajukan tup?")
        ticket = await chat.ticket()
        (first,) = await cards()
        assert "jawaban sementara sudah terkirim" in first
        await runtime.engine.handle(staff("8001", f"/ambil {ticket.id}", "r1"))
        await runtime.engine.handle(staff("8001", "/jawab tup-pengajuan", "r2"))
        await chat.press_data(f"answer:{ticket.id}:no")  # confirmed, yet not solved for them
        assert (await chat.ticket()).status == "queued"
        again = (await cards())[-1]  # the ticket back in the queue, with its card
        assert again != first and ticket.number in again
        assert "Usulan dari knowledge base" not in again
    finally:
        await runtime.close()


async def test_an_office_may_keep_an_entry_for_csos_or_send_unverified_ones_as_answers(
    tmp_path: Path, clock: FakeClock
) -> None:
    kb = knowledge_copy(tmp_path, **{"tup-pengajuan": UNVERIFIED_TUP})
    runtime = await runtime_for(
        tmp_path, clock, kb, knowledge={"delivery": {"gup-pengisian": "cso_only"}}
    )
    try:
        chat = FakeChat(runtime)
        await chat.identify()
        await chat.send("kapan gup bisa diajukan")
        assert "GUP dapat diajukan" not in chat.text  # never sent by the bot
        assert "kami teruskan kepada petugas CSO" in chat.text
        assert (await chat.ticket()).status == "queued"
        card = "\n".join(await texts_to(runtime, "8001"))
        assert "belum dikirim (topik hanya untuk CSO)" in card
    finally:
        await runtime.close()
    runtime = await runtime_for(tmp_path, clock, kb, knowledge={"unverified": "answer"})
    try:
        chat = FakeChat(runtime, user_id="2002")
        await chat.identify()
        await chat.send("bagaimana cara mengajukan tup?")
        assert [b.label for b in chat.replies[-1].buttons] == ["Ya, terjawab", "Belum"]
        assert (await chat.ticket()).status == "answered"
    finally:
        await runtime.close()


async def test_guidance_that_cannot_state_the_key_fact_hands_off_without_asking(
    tmp_path: Path, clock: FakeClock
) -> None:
    kb = knowledge_copy(tmp_path, **{"retur-sp2d": {"delivery": "handoff"}})
    runtime = await runtime_for(tmp_path, clock, kb)
    try:
        chat = FakeChat(runtime)
        await chat.identify()
        await chat.send("dana sp2d retur, bagaimana membayarkannya kembali?")
        assert "Perbaiki data rekening penerima" in chat.replies[-1].text
        assert "perlu dipastikan petugas" in chat.replies[-1].text
        assert "sudah terjawab" not in chat.text
        assert (await chat.ticket()).status == "queued"
    finally:
        await runtime.close()


async def test_long_details_wait_behind_selengkapnya(tmp_path: Path, clock: FakeClock) -> None:
    kb = knowledge_copy(tmp_path, **{"gup-pengisian": {"details": LONG_DETAILS}})
    runtime = await runtime_for(tmp_path, clock, kb)
    try:
        chat = FakeChat(runtime)
        await chat.identify()
        await chat.send("kapan gup bisa diajukan")
        answer = chat.replies[-1]
        assert "GUP dapat diajukan" in answer.text and "Langkah ke-1" not in answer.text
        assert [b.label for b in answer.buttons] == ["Ya, terjawab", "Belum", "Selengkapnya"]
        await chat.send("oke, saya baca dulu ya")  # still reading: the same three buttons again
        assert [b.label for b in chat.replies[-1].buttons] == [b.label for b in answer.buttons]
        await chat.send("lengkapnya dong pak")  # typed instead of pressing "Selengkapnya"
        details = chat.replies[-1]
        assert "Langkah ke-8" in details.text and "Dasar hukum: PMK 62 Tahun 2023" in details.text
        assert [b.label for b in details.buttons] == ["Ya, terjawab", "Belum"]
        assert (await chat.ticket()).status == "answered"  # reading on changes nothing
        await chat.press("Ya, terjawab")
        await chat.press_data(f"more:{(await chat.ticket()).id}:gup-pengisian")
        assert chat.replies[-1].buttons == ()  # still readable, nothing left to confirm
    finally:
        await runtime.close()
    short = knowledge_copy(tmp_path / "short", **{"gup-pengisian": {"details": "Lampirkan SPTJ."}})
    runtime = await runtime_for(tmp_path / "short", clock, short)
    try:
        chat = FakeChat(runtime)
        await chat.identify()
        await chat.send("kapan gup bisa diajukan")
        assert (
            "GUP dapat diajukan setelah UP digunakan paling sedikit 50 persen.\n\nLampirkan SPTJ."
            in chat.replies[-1].text
        )
        assert "Selengkapnya" not in [b.label for b in chat.replies[-1].buttons]
    finally:
        await runtime.close()


def test_an_unverified_entry_must_say_what_to_check(tmp_path: Path) -> None:
    kb = knowledge_copy(tmp_path, **{"tup-pengajuan": {"verified": False}})
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(kb, SECTIONS)
    assert "entry tup-pengajuan" in str(caught.value) and "verify:" in str(caught.value)
    renamed = knowledge_copy(tmp_path / "old", **{"tup-pengajuan": {"legal_basis": []}})
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(renamed, SECTIONS)
    assert "legal_basis: unknown key" in str(caught.value)


def test_check_warns_and_review_lists_per_section(tmp_path: Path) -> None:
    config = load_config(config_for_tests(tmp_path, staff=STAFF))
    kb = knowledge_copy(
        tmp_path,
        **{
            "tup-pengajuan": {
                **UNVERIFIED_TUP,
                "answer": "Silakan konfirmasikan ke KPPN. " + "Penjelasan panjang. " * 20,
                "sources": [{"citation": "PMK 62 Tahun 2023", "article": "Pasal 53"}],
                "reviewed": "2025-01-02",
            }
        },
    )
    knowledge = load_knowledge(kb, SECTIONS)
    found = warnings(knowledge, config)
    tup = [line for line in found if "entry tup-pengajuan" in line]
    assert any("has no direct first part" in line for line in tup)
    assert any("«konfirmasikan ke KPPN»" in line for line in tup)
    assert any("does not say where it was checked" in line for line in tup)
    review = needs_review(knowledge, config, date(2026, 11, 29))
    items = {item.entry.id: item.reasons for item in review["pencairan"]}
    assert items["tup-pengajuan"][0].startswith("unverified – to check: Batas 1 bulan")
    assert "last reviewed 696 days ago (more than 180)" in items["tup-pengajuan"]
    text = render_review(review, config, knowledge)
    assert "Seksi Pencairan Dana (pencairan) – Kepala Seksi: Citra Kasi PD" in text
    cli = subprocess.run(
        [sys.executable, "-m", "bot", "kb", "review", "--kb", str(kb), "--max-age-days", "9999"],
        capture_output=True,
        text=True,
        env={"CSOBOT_CONFIG": str(ROOT / "config.yaml"), "PATH": ""},
        cwd=tmp_path,
        check=False,
    )
    assert cli.returncode == 0, cli.stderr
    assert "tup-pengajuan" in cli.stdout and "last reviewed" not in cli.stdout


def test_a_regional_word_may_not_rewrite_an_official_term(tmp_path: Path) -> None:
    config = load_config(config_for_tests(tmp_path, staff=STAFF))
    kb = knowledge_copy(tmp_path, **{"tup-pengajuan": {"keywords": ["tup", "dak tup"]}})
    language = kb / "_language.yaml"
    data = yaml.safe_load(language.read_text(encoding="utf-8"))
    data["regional"] = {"dak": "tidak", "kulo": "saya"}
    language.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    knowledge = load_knowledge(kb, SECTIONS)
    assert Normaliser(knowledge.abbreviations, ())("kulo dereng") == "saya dereng"
    found = [line for line in warnings(knowledge, config) if "regional word" in line]
    expected = (
        "_language.yaml: regional word 'dak' (read as 'tidak') is a word of entry "
        "tup-pengajuan's «dak tup»; remove it from `regional:`"
    )
    assert found == [expected]


def test_a_regulation_checked_in_two_places_is_cited_once(tmp_path: Path) -> None:
    sources = [
        {"citation": "PMK 62 Tahun 2023", "title": "Pelaksanaan Anggaran", "checked_at": "a"},
        {"citation": "PMK 62 Tahun 2023", "title": "(salinan lain)", "checked_at": "b"},
        {"citation": "PMK 62 Tahun 2023", "article": "Pasal 53", "checked_at": "c"},
    ]
    kb = knowledge_copy(tmp_path, **{"tup-pengajuan": {"sources": sources}})
    entry = load_knowledge(kb, SECTIONS).entry("tup-pengajuan")
    assert entry is not None
    assert entry.render_legal_basis() == (
        "PMK 62 Tahun 2023 tentang Pelaksanaan Anggaran; PMK 62 Tahun 2023 Pasal 53"
    )


def test_the_shipped_knowledge_base_is_sourced_short_and_checked() -> None:
    config = load_config(ROOT / "config.yaml")
    knowledge = load_knowledge(ROOT / "knowledge", config.sections)
    assert warnings(knowledge, config) == []
    values = config.office_values()
    for entry in knowledge.entries:
        assert len(entry.render_answer(values)) <= config.knowledge.direct_answer_max, entry.id
        assert entry.sources and all(s.checked_at for s in entry.sources), entry.id
        assert entry.verified or (entry.verify or "").strip(), entry.id
        assert entry.reviewed_by.strip(), entry.id
        for text in (entry.render_answer(values), entry.render_details(values)):
            assert "{" not in text and "TODO" not in text, entry.id


def test_suggestions_come_from_the_desk_and_help_only_once_applied(tmp_path: Path) -> None:
    config = load_config(config_for_tests(tmp_path))
    knowledge = load_knowledge(FIXTURE_KB, SECTIONS)
    matcher = Matcher(knowledge, config.matcher)
    taught = (
        "transferan ke rekanan nyangkut gara2 nama di buku tabungan beda, gimana biar cair lagi"
    )
    assert matcher.match(taught).decision is not Decision.ANSWER
    resolutions = [
        Resolution(taught, "retur-sp2d"),
        Resolution("bagaimana cara mengajukan tup", "tup-pengajuan"),  # already an example
        Resolution("nomor rek 1234567890 salah, uang mantul ke kas negara", "retur-sp2d"),
        Resolution("bagaimana cara mutasi pegawai ke kementerian lain", None),
        Resolution("cara mutasi pegawai antar kementerian gimana", None),
        Resolution("jadwal senam pagi di kantor", None),
    ]
    found = suggest(matcher, resolutions)
    assert found.examples == {
        "retur-sp2d": [taught, "nomor rek 0000 salah, uang mantul ke kas negara"]
    }
    assert found.new_topics == [
        [
            "bagaimana cara mutasi pegawai ke kementerian lain",
            "cara mutasi pegawai antar kementerian gimana",
        ]
    ]
    text = render_yaml(found, knowledge, date(2026, 11, 29))
    assert "Nothing here is live" in text and "1234567890" not in text
    pasted = yaml.safe_load(text)
    assert pasted["examples"]["retur-sp2d"][0] == taught
    assert pasted["new_entries"][0]["verified"] is False
    assert matcher.knowledge is knowledge  # suggesting changed nothing
    learned = Matcher(apply_examples(knowledge, found.examples), config.matcher)
    similar = "transferan ke rekanan nyangkut karena nama di buku tabungan beda, bagaimana supaya cair lagi?"
    assert matcher.match(similar).decision is not Decision.ANSWER
    after = learned.match(similar)
    assert after.decision is Decision.ANSWER and after.best is not None
    assert after.best.id == "retur-sp2d"


def test_an_unsure_match_offers_its_best_guesses(tmp_path: Path) -> None:
    """Below every answer and clarify threshold, the best guesses are still offered while the
    best one reaches offer_score; below that, the question goes to a CSO."""
    knowledge = load_knowledge(FIXTURE_KB, SECTIONS)
    unsure = {**TEST_MATCHER, "answer_score": 99, "clarify_score": 99}

    def decide(offer_score: float | None) -> Any:
        config = load_config(
            config_for_tests(tmp_path, matcher={**unsure, "offer_score": offer_score})
        )
        return Matcher(knowledge, config.matcher).match("uang persediaan tambahan")

    offered = decide(0)
    assert offered.decision is Decision.CLARIFY
    assert offered.candidates[0].id == "tup-pengajuan" and len(offered.candidates) == 3
    assert decide(99).decision is Decision.HANDOFF
    assert decide(None).decision is Decision.HANDOFF  # an office may switch offering off


async def test_provisional_answers_and_selengkapnya_on_telegram(
    tmp_path: Path, bot_api: FakeBotApi, clock: FakeClock
) -> None:
    """Through the real PTB stack against the fake Bot API: the caveat, no confirmation buttons
    under a provisional answer, and the details behind an inline "Selengkapnya" button."""
    kb = knowledge_copy(
        tmp_path,
        **{"tup-pengajuan": UNVERIFIED_TUP, "gup-pengisian": {"details": LONG_DETAILS}},
    )
    runtime, host = await start_bot(tmp_path, bot_api, clock, csobot_knowledge_dir=kb)
    try:
        await identify(bot_api)  # ends with the phone shared
        _ack, provisional, *_ = await say(bot_api, "bagaimana cara mengajukan tup?", 2)
        assert provisional.startswith("⚠️ Jawaban sementara")
        assert "reply_markup" not in bot_api.sent("sendMessage", USER)[-1].params
        _ack, answer = await say(bot_api, "kapan gup bisa diajukan", 2)
        assert "Langkah ke-1" not in answer
        keyboard = bot_api.sent("sendMessage", USER)[-1].params["reply_markup"]["inline_keyboard"]
        assert [row[0]["text"] for row in keyboard] == ["Ya, terjawab", "Belum", "Selengkapnya"]
        (details,) = await press(bot_api, keyboard[2][0]["callback_data"], 1)
        assert "Langkah ke-8" in details
    finally:
        await host.stop()
        await runtime.close()


async def test_kb_suggest_reads_what_the_desk_resolved(tmp_path: Path, clock: FakeClock) -> None:
    """Tickets resolved at the desk, then `csobot kb suggest` on that database: the /jawab topic's
    missed question as a candidate example, a free answer asked twice as a candidate entry."""
    runtime = await runtime_for(tmp_path, clock, FIXTURE_KB)
    taught = (
        "transferan ke rekanan nyangkut gara2 nama di buku tabungan beda, gimana biar cair lagi"
    )
    try:
        asked = [
            ("3001", "bagaimana cara mutasi pegawai ke kementerian lain", "/selesai Lewat BKN."),
            ("3002", "cara mutasi pegawai antar kementerian gimana", "/selesai Lewat BKN."),
            ("3003", taught, "/jawab retur-sp2d"),
        ]
        for number, (user, question, closing) in enumerate(asked, 1):
            chat = FakeChat(runtime, user_id=user)
            await chat.identify()
            await chat.send(question)
            if (await chat.ticket()).status == "asked":  # offered topics: none fits
                await chat.press("Bukan, hubungkan ke CSO")
            ticket = await chat.ticket()
            assert ticket.status == "queued", question
            await runtime.engine.handle(staff("8001", f"/ambil {ticket.id}", f"a{number}"))
            await runtime.engine.handle(staff("8001", closing, f"c{number}"))
            if closing.startswith("/jawab"):
                await chat.press_data(f"answer:{ticket.id}:yes")
        erased = FakeChat(runtime, user_id="3004")  # asked, answered, then erased their data
        await erased.identify()
        await erased.send("cara mutasi pegawai ke kementerian lain bagaimana")
        if (await erased.ticket()).status == "asked":
            await erased.press("Bukan, hubungkan ke CSO")
        gone = await erased.ticket()
        await runtime.engine.handle(staff("8001", f"/ambil {gone.id}", "a4"))
        await runtime.engine.handle(staff("8001", "/selesai Lewat BKN.", "c4"))
        await erased.send("/hapus_data")
        await erased.press("Ya, hapus data saya")
        async with runtime.sessions() as session:
            assert (await session.get(Ticket, gone.id)).question == "[dihapus]"  # type: ignore[union-attr]
    finally:
        await runtime.close()

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return run(
            tmp_path,
            "kb",
            "suggest",
            *args,
            DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'csobot.db'}",
        )

    result = cli("--output", "saran.yaml")
    assert result.returncode == 0, result.stderr
    suggested = yaml.safe_load((tmp_path / "saran.yaml").read_text(encoding="utf-8"))
    assert suggested["examples"] == {"retur-sp2d": [taught]}
    assert [draft["questions"] for draft in suggested["new_entries"]] == [
        [asked[0][1], asked[1][1]]
    ]
    assert cli("--days", "0").returncode == 2
