"""The commands a new user and an operator run, as subprocesses on a fresh database."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURE_KB, config_for_tests

CONVERSATION = """/start
1
Siti Rahmawati
PPK
123456
Satker Contoh
2
bagaimana cara mengajukan tup?
1
bagaimana prosedur mutasi pegawai antar kementerian lembaga
/status
"""


def environment_for(tmp_path: Path, **env: str) -> dict[str, str]:
    """This process's environment without csobot's settings, plus the test's own."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TELEGRAM_", "CSOBOT_", "DATABASE_URL"))
    }
    environment.update(
        {
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
            "CSOBOT_KNOWLEDGE_DIR": str(FIXTURE_KB),
            "CSOBOT_CONFIG": str(config_for_tests(tmp_path)),
            "CSOBOT_DATA_DIR": str(tmp_path / "data"),
            **env,
        }
    )
    return environment


def run(
    tmp_path: Path,
    *args: str,
    stdin: str = "",
    python: tuple[str, ...] = ("-m", "bot"),
    **env: str,
) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` (or other interpreter arguments) in `tmp_path`."""
    environment = environment_for(tmp_path, **env)
    return subprocess.run(
        [sys.executable, *python, *args],
        input=stdin,
        check=False,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environment,
        timeout=120,
    )


def test_a_scripted_terminal_conversation(tmp_path: Path) -> None:
    result = run(tmp_path, "chat", stdin=CONVERSATION)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Anda: /start" in out and "Bot: Selamat datang" in out
    assert "  [1] Setuju" in out and "  [2] Tidak setuju" in out
    assert "KNS-" in out and "Pengajuan Tambahan UP (TUP)" in out
    assert "Resolved" in out
    assert "dalam antrean petugas CSO" in out
    assert "Traceback" not in result.stderr

    queue = run(tmp_path, "tickets", "--status", "queued")
    assert queue.returncode == 0, queue.stderr
    lines = queue.stdout.splitlines()
    assert lines[0].split() == ["tiket", "status", "dibuka", "topik", "pertanyaan"]
    assert len(lines) == 2 and "antre CSO" in lines[1] and "mutasi pegawai" in lines[1]
    assert "queued" not in lines[1]  # staff read the status by its name, not its code
    everything = run(tmp_path, "tickets", "--all")
    assert "selesai (Resolved)" in everything.stdout and "tup-pengajuan" in everything.stdout

    again = run(tmp_path, "chat", stdin="/profil\n")
    assert "Nama: Siti Rahmawati" in again.stdout  # remembered across runs


def test_run_without_a_token_explains_what_to_set(tmp_path: Path) -> None:
    result = run(tmp_path, "run")
    assert result.returncode == 2
    assert "TELEGRAM_BOT_TOKEN is not set" in result.stderr and ".env" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_with_a_rejected_token_stops_with_a_clear_message(tmp_path: Path) -> None:
    import asyncio

    from tests.fakes.bot_api import FakeBotApi

    async def scenario() -> subprocess.CompletedProcess[str]:
        server = FakeBotApi()
        await server.start()
        server.fail("getMe", 401, description="Unauthorized")
        try:
            return await asyncio.to_thread(
                run,
                tmp_path,
                "run",
                TELEGRAM_BOT_TOKEN="1:WRONG",
                TELEGRAM_API_BASE_URL=server.base_url,
            )
        finally:
            await server.stop()

    result = asyncio.run(scenario())
    assert result.returncode == 2
    assert "rejected TELEGRAM_BOT_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_status_filter_is_refused(tmp_path: Path) -> None:
    result = run(tmp_path, "tickets", "--status", "lost")
    assert result.returncode == 2 and "unknown status" in result.stderr


def test_db_upgrade_and_current(tmp_path: Path) -> None:
    upgrade = run(tmp_path, "db", "upgrade")
    assert upgrade.returncode == 0 and "database is at revision" in upgrade.stdout
    current = run(tmp_path, "db", "current")
    assert "up to date" in current.stdout


def test_an_invalid_knowledge_base_stops_the_bot(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "broken.yaml").write_text(
        "area: X\nentries:\n  - id: Not_Kebab\n    title: T\n", encoding="utf-8"
    )
    result = run(tmp_path, "chat", stdin="/start\n", CSOBOT_KNOWLEDGE_DIR=str(kb))
    assert result.returncode == 2
    assert f"{kb / 'broken.yaml'}:3: entry Not_Kebab:" in result.stderr


def test_webhook_mode_without_its_settings_explains_and_exits_2(tmp_path: Path) -> None:
    result = run(tmp_path, "run", "--webhook", TELEGRAM_BOT_TOKEN="1:TOKEN")
    assert result.returncode == 2
    assert (
        "TELEGRAM_WEBHOOK_URL and TELEGRAM_WEBHOOK_SECRET" in result.stderr
        and "Traceback" not in result.stderr
    )


def test_the_terminal_reads_small_talk_and_typed_replies_like_telegram(tmp_path: Path) -> None:
    script = """/start
1
Siti Rahmawati
PPK
123456
Satker Contoh
2
halo pak
bagaimana cara mengajukan tup?
sudah jelas, makasih pak
/status
"""
    result = run(tmp_path, "chat", stdin=script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Bot: Selamat datang, Siti Rahmawati" in out  # small talk: no ticket
    assert "KNS-" in out and "status Resolved" in out  # the typed thanks closed the ticket
    assert "tidak memiliki tiket yang sedang diproses" in out


def test_kb_match_answers_from_the_cache_without_scikit_learn(tmp_path: Path) -> None:
    """The first `kb match` builds the matcher (scikit-learn) and caches it; later ones load the
    cache and answer without importing scikit-learn, which is what made the first answer slow.
    Neither needs the database layer (SQLAlchemy and Alembic: half a second more)."""
    script = (
        "import sys; from bot.cli import main; code = main(['kb', 'match', 'cara ajukan tup']); "
        "print('sklearn loaded' if 'sklearn' in sys.modules else 'sklearn not loaded'); "
        "assert 'sqlalchemy' not in sys.modules and 'holidays' not in sys.modules; "
        "sys.exit(code)"
    )
    outputs = []
    for _ in range(2):
        done = run(tmp_path, python=("-c", script))
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout.splitlines())
    assert json.loads(outputs[0][0])["id"] == json.loads(outputs[1][0])["id"] == "tup-pengajuan"
    assert (outputs[0][1], outputs[1][1]) == ("sklearn loaded", "sklearn not loaded")
    assert list((tmp_path / "data" / "cache").glob("knowledge-*.pickle"))


def test_a_long_running_bot_builds_the_knowledge_base_apart(tmp_path: Path) -> None:
    """`csobot run` builds a changed knowledge base in a child process and loads the result:
    the same answers, and scikit-learn never in the bot's own memory; problems in the files
    are reported like an in-process build's."""
    script = (
        "import sys; from pathlib import Path; from bot.config import load_config; "
        "from bot.knowledge.cache import load_matcher; "
        f"config = load_config(Path({str(config_for_tests(tmp_path))!r})); "
        f"m = load_matcher(config, Path({str(FIXTURE_KB)!r}), Path('cache'), apart=True); "
        "print(m.match('cara ajukan tup').best.id, 'sklearn' in sys.modules)"
    )
    done = run(tmp_path, python=("-c", script))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["tup-pengajuan", "False"]
    assert list((tmp_path / "cache").glob("knowledge-*.pickle"))

    from bot.config import load_config
    from bot.knowledge import KnowledgeError
    from bot.knowledge.cache import load_matcher

    broken = tmp_path / "broken"
    shutil.copytree(FIXTURE_KB, broken)
    path = broken / "up-tup.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("verified: true", "verified: mungkin", 1)
    )
    with pytest.raises(KnowledgeError) as caught:
        load_matcher(load_config(config_for_tests(tmp_path)), broken, tmp_path / "c2", apart=True)
    assert any("up-tup.yaml:" in line and "verified" in line for line in caught.value.problems)
