"""What staff read is Indonesian and the office's own words: transcripts, reports, the dashboard.

The database keeps stable English codes (reasons, statuses, topic ids, actors); everything shown
to a supervisor or CSO goes through config.yaml texts (bot/labels.py).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml
from sqlalchemy import update
from sqlmodel import col

from bot.clock import FakeClock
from bot.config import ConfigError, load_config
from bot.labels import REASON_CODES, StaffLabels
from bot.report import build_report
from bot.report import render_html as report_html
from bot.runtime import Runtime, build_runtime
from bot.store.models import Ticket
from bot.transcript import Transcript, load_transcript, render_html, render_jsonl, render_markdown
from bot.web import create_app, create_login_link
from tests.conftest import ROOT, FakeChat, config_for_tests, make_settings, texts_to
from tests.test_supervision import STAFF, scripted_consultation, staff

WIB = ZoneInfo("Asia/Jakarta")
MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=WIB)
SUPERVISOR = "Eka Supervisor"
TUP_TITLE = "Pengajuan Tambahan UP (TUP)"
TAX_TITLE = "Pajak penghasilan pribadi"

# What the issue found in transcripts and reports: stored codes and stakeholder-facing labels.
NOT_FOR_STAFF = (
    "question received",
    "knowledge base match",
    "stakeholder says the answer did not solve it",
    "out of scope",
    "no knowledge base answer",
    "documents requested",
    "documents complete",
    "escalated:",
    "resolved by CSO",
    "reopened:",
    "knowledge base answer",
    "(stakeholder)",
    "oos-pajak-pribadi",
    "menunggu konfirmasi Bapak/Ibu",
    "dalam antrean petugas CSO",
)


def shipped_texts() -> dict[str, Any]:
    texts: dict[str, Any] = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))[
        "texts"
    ]
    return texts


async def runtime_with(tmp_path: Path, clock: FakeClock, **texts: Any) -> Runtime:
    """A runtime with the staff of test_supervision and `texts` reworded by the office."""
    changes: dict[str, Any] = {"staff": STAFF}
    if texts:
        changes["texts"] = {**shipped_texts(), **texts}
    config = config_for_tests(tmp_path, **changes)
    return await build_runtime(make_settings(tmp_path, csobot_config=config), clock=clock)


async def transcript_of(runtime: Runtime, number: str) -> Transcript:
    async with runtime.sessions() as session:
        found = await load_transcript(
            session, runtime.config, number, runtime.knowledge.matcher.knowledge
        )
    assert found is not None
    return found


async def out_of_scope_ticket(runtime: Runtime) -> Ticket:
    chat = FakeChat(runtime, user_id="1002")
    await chat.identify(name="Budi Santoso")
    await chat.send("cara lapor spt tahunan pribadi")
    ticket = await chat.ticket()
    assert ticket.status == "queued"
    return ticket


async def test_a_transcript_shows_reasons_actors_statuses_and_topics_in_indonesian(
    tmp_path: Path,
) -> None:
    clock = FakeClock(MONDAY)
    runtime = await runtime_with(tmp_path, clock)
    try:
        await scripted_consultation(runtime, clock, tmp_path)
        clock.advance(minutes=1)
        outside = await out_of_scope_ticket(runtime)
        clock.advance(minutes=1)
        await runtime.engine.handle(staff("8001", f"/ambil {outside.id}", "s6"))
        clock.advance(minutes=1)
        await runtime.engine.handle(staff("8001", "/jawab tup-pengajuan", "s7"))

        first = await transcript_of(runtime, "KNS-20261123-0001")
        events = [e for e in first.entries if e.kind == "event"]
        assert all(e.detail != e.code for e in events), [(e.code, e.detail) for e in events]
        details = [e.detail for e in events]
        assert details[:3] == [
            "pertanyaan diterima",
            details[1],  # the score varies with the matcher
            "pengguna layanan menyatakan jawaban belum menyelesaikan masalahnya",
        ]
        assert details[1].startswith("jawaban knowledge base dikirim bot (skor kecocokan ")
        for expected in (
            "diambil oleh petugas CSO",
            "dokumen pendukung diminta",
            "dokumen pendukung dinyatakan lengkap",
            "eskalasi ke Kepala Seksi: perlu konfirmasi",
            "diselesaikan oleh petugas CSO",
        ):
            assert expected in details, expected
        assert {e.who for e in events} == {
            "Siti Rahmawati (pengguna layanan)",
            "csobot",
            "Andi CSO (CSO)",
        }
        assert first.status == "selesai (Resolved)" and first.topic == TUP_TITLE

        second = await transcript_of(runtime, outside.number)
        assert [e.detail for e in second.entries if e.kind == "event"] == [
            "pertanyaan diterima",
            f"di luar layanan KPPN: {TAX_TITLE}",
            "diambil oleh petugas CSO",
            f"jawaban knowledge base dikirim petugas CSO: {TUP_TITLE}",
        ]
        assert second.status == "dijawab bot, menunggu konfirmasi" and second.topic == TUP_TITLE

        for transcript in (first, second):
            documents = (
                render_markdown(transcript, runtime.config),
                render_html(transcript, runtime.config),
            )
            for document in documents:
                for english in NOT_FOR_STAFF:
                    assert english not in document, (transcript.ticket.number, english)
        html = render_html(first, runtime.config)
        assert f"<td>Topik</td><td>{TUP_TITLE}</td>" in html
        assert (
            "status baru → dicarikan jawaban oleh bot — Siti Rahmawati (pengguna layanan): "
            in (html)
        )
        assert 'class="entry stakeholder"' in html and 'class="entry cso"' in html
        # The export for auditors keeps the stored codes beside the words.
        rows = [json.loads(line) for line in render_jsonl(first).splitlines()]
        assert {"question received", "taken", "resolved by CSO"} <= {row["code"] for row in rows}
        assert {"stakeholder", "bot", "cso:Andi CSO"} <= {row["actor"] for row in rows}
    finally:
        await runtime.close()


async def test_report_and_dashboard_show_topic_titles_and_staff_statuses(tmp_path: Path) -> None:
    clock = FakeClock(MONDAY)
    runtime = await runtime_with(tmp_path, clock)
    try:
        tup = FakeChat(runtime)
        await tup.identify()
        await tup.send("bagaimana cara mengajukan tup?")
        answered = await tup.ticket()
        assert answered.topic_id == "tup-pengajuan"
        outside = await out_of_scope_ticket(runtime)
        other = FakeChat(runtime, user_id="1003")
        await other.identify(name="Dewi Lestari")
        await other.send("bagaimana prosedur mutasi pegawai antar kementerian lembaga")
        untopical = await other.ticket()
        assert untopical.topic_id is None and untopical.status == "queued"
        async with runtime.sessions() as session:  # an out-of-scope topic recorded on a ticket
            await session.exec(
                update(Ticket)
                .where(col(Ticket.id) == outside.id)
                .values(topic_id="oos-pajak-pribadi")
            )
            await session.commit()

        knowledge = runtime.knowledge.matcher.knowledge
        async with runtime.sessions() as session:
            report = await build_report(
                session,
                runtime.config,
                "pekalongan",
                date(2026, 11, 23),
                date(2026, 11, 24),
                clock.now(),
            )
        html = report_html(report, runtime.config, knowledge)
        topics = html.split("<h2>Topik</h2>")[1].split("</table>")[0]
        assert "<td>tup-pengajuan</td>" not in topics and "<td>-</td>" not in topics
        for expected in (
            f"<td>{TUP_TITLE}</td>",
            f"<td>Di luar layanan: {TAX_TITLE}</td>",
            "<td>tanpa topik</td>",
            "<td>antre CSO</td>",
            "<td>dijawab bot, menunggu konfirmasi</td>",
            "Laporan Layanan Konsultasi Stakeholder — KPPN Pekalongan",
            "Dilayani ≤ 20 menit",
            "Selesai ≤ 3 hari kerja",
        ):
            assert expected in html, expected
        for code in ("<td>queued</td>", "<td>answered</td>", "Bapak/Ibu"):
            assert code not in html, code

        app = create_app(
            runtime, secret="uji-rahasia-yang-cukup-panjang-untuk-sesi", password_hash=None
        )
        base = "http://dasbor.test"
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base) as client:
            link = await create_login_link(runtime, SUPERVISOR, base)
            await client.get(urlsplit(link).path)
            listing = (await client.get("/")).text
        for expected in (
            f">{TUP_TITLE}</td>",
            f">Di luar layanan: {TAX_TITLE}</td>",
            ">tanpa topik</td>",
            ">antre CSO</td>",
            '<option value="queued">antre CSO</option>',
        ):
            assert expected in listing, expected
        assert ">tup-pengajuan</td>" not in listing and ">-</td>" not in listing
        assert "menunggu konfirmasi Bapak/Ibu" not in listing
    finally:
        await runtime.close()


async def test_an_office_rewording_is_what_staff_read(tmp_path: Path) -> None:
    clock = FakeClock(MONDAY)
    texts = shipped_texts()
    runtime = await runtime_with(
        tmp_path,
        clock,
        staff_status_labels={**texts["staff_status_labels"], "queued": "menunggu petugas"},
        event_reasons={
            **texts["event_reasons"],
            "question received": "pertanyaan masuk ({office_name})",
            "knowledge base match {score}": "dijawab otomatis, skor {score}",
        },
        actor_stakeholder="Pemohon {name}",
        actor_bot="Asisten virtual",
        topic_none="belum ada topik",
        report_heading="Laporan Kinerja Layanan — {office}",
        transcript_event="{who} mengubah status ({change}); alasan: {reason}",
    )
    try:
        await scripted_consultation(runtime, clock, tmp_path)
        transcript = await transcript_of(runtime, "KNS-20261123-0001")
        events = [e for e in transcript.entries if e.kind == "event"]
        assert events[0].who == "Pemohon Siti Rahmawati"
        assert events[0].detail == "pertanyaan masuk (KPPN Pekalongan)"
        assert events[1].who == "Asisten virtual" and events[1].detail.startswith(
            "dijawab otomatis"
        )
        assert any("→ menunggu petugas" in e.text for e in events)
        markdown = render_markdown(transcript, runtime.config)
        assert "Pemohon Siti Rahmawati mengubah status (baru → " in markdown
        async with runtime.sessions() as session:
            report = await build_report(
                session,
                runtime.config,
                "pekalongan",
                date(2026, 11, 23),
                date(2026, 11, 24),
                clock.now(),
            )
        html = report_html(report, runtime.config, runtime.knowledge.matcher.knowledge)
        assert "Laporan Kinerja Layanan — KPPN Pekalongan" in html
        # The desk reads the staff label too (never the stakeholder's): the card and /antrian.
        outside = await out_of_scope_ticket(runtime)
        handled = await runtime.engine.handle(staff("8001", "/antrian", "s8"))
        queue = "\n".join(reply.text for reply in handled.unstored)
        assert f"#{outside.id} {outside.number} · menunggu petugas ·" in queue
        card = next(t for t in await texts_to(runtime, "8001") if t.startswith("🎫 KNS-"))
        assert card.startswith("🎫 KNS-20261123-0001 · menunggu petugas\n")
        labels = StaffLabels(runtime.config)
        assert (
            labels.status("queued") == "menunggu petugas"
            and labels.topic(None) == "belum ada topik"
        )
        assert labels.reason("a reason from a later version") == "a reason from a later version"
    finally:
        await runtime.close()


def test_every_stored_reason_code_has_words_for_staff() -> None:
    config = load_config(ROOT / "config.yaml")
    assert set(REASON_CODES) <= set(config.texts.event_reasons)
    labels = StaffLabels(config)
    samples = {"{score}": "54", "{topic}": "tup-pengajuan", "{reason}": "perlu konfirmasi"}
    for code in REASON_CODES:
        stored = code
        for placeholder, value in samples.items():
            stored = stored.replace(placeholder, value)
        shown = labels.reason(stored)
        assert shown != stored and "{" not in shown, code
    assert labels.reason("knowledge base match 54") == (
        "jawaban knowledge base dikirim bot (skor kecocokan 54)"
    )
    assert (
        labels.reason("out of scope: oos-yang-dihapus") == "di luar layanan KPPN: oos-yang-dihapus"
    )
    assert labels.actor("cso:Andi", None) == "Andi (CSO)"
    assert labels.actor("stakeholder", None) == "tanpa nama (pengguna layanan)"
    assert set(config.texts.staff_status_labels) == set(config.texts.status_labels)
    assert config.texts.staff_status_labels["answered"] == "dijawab bot, menunggu konfirmasi"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"actor_cso": "{nama} (CSO)"}, "actor_cso: unknown placeholder(s) ['nama']"),
        ({"topic_out_of_scope": "Di luar layanan: {judul}"}, "unknown placeholder(s) ['judul']"),
        ({"report_period": "Periode {awal} s.d. {end}"}, "unknown placeholder(s) ['awal']"),
        (
            {"event_reasons": {"knowledge base match {score}": "cocok, skor {skor}"}},
            "unknown placeholder(s) ['skor']",
        ),
        (
            {"event_reasons": {"knowledge base match {score}": "jawaban {topic}"}},
            "'knowledge base match {score}': unknown placeholder(s) ['topic']",
        ),
        (
            {"event_reasons": {"escalated: {alasan}": "eskalasi: {alasan}"}},
            "unknown placeholder(s) ['alasan']",
        ),
        ({"staff_status_labels": {"queued": "antre CSO"}}, "same statuses as status_labels"),
    ],
)
def test_config_refuses_an_unknown_placeholder_in_staff_texts(
    tmp_path: Path, change: dict[str, Any], expected: str
) -> None:
    path = config_for_tests(tmp_path, texts={**shipped_texts(), **change})
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "texts" in str(caught.value) and expected in str(caught.value)
