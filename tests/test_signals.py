"""`csobot run` as operators run it: a real process, signals, the fake Bot API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from pathlib import Path

from tests.conftest import FIXTURE_KB, config_for_tests
from tests.fakes.bot_api import FakeBotApi
from tests.test_telegram_e2e import identify, say


async def test_sighup_reloads_the_knowledge_base_and_sigterm_stops_cleanly(tmp_path: Path) -> None:
    knowledge = tmp_path / "knowledge"
    shutil.copytree(FIXTURE_KB, knowledge)
    server = FakeBotApi()
    await server.start()
    environment = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TELEGRAM_", "CSOBOT_", "DATABASE_URL"))
        },
        "TELEGRAM_BOT_TOKEN": "123456:SIGNALS",
        "TELEGRAM_API_BASE_URL": server.base_url,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'run.db'}",
        "CSOBOT_KNOWLEDGE_DIR": str(knowledge),
        "CSOBOT_CONFIG": str(config_for_tests(tmp_path)),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=tmp_path,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await server.wait_for(lambda: bool(server.sent("getUpdates")), timeout=60)
        await identify(server)
        area = knowledge / "up-tup.yaml"
        area.write_text(
            area.read_text().replace(
                "title: Pengajuan Tambahan UP (TUP)", "title: TUP (versi baru)"
            )
        )
        process.send_signal(signal.SIGHUP)
        for _ in range(100):
            _ack, answer = await say(server, "cara mengajukan tup", 2)
            if "TUP (versi baru)" in answer:
                break
            await say(server, "/baru", 1)
            await asyncio.sleep(0.1)
        assert "TUP (versi baru)" in answer

        area.write_text("entries: [rusak\n")
        process.send_signal(signal.SIGHUP)
        await asyncio.sleep(1.0)
        await say(server, "/baru", 1)
        _ack, answer = await say(server, "cara mengajukan tup", 2)
        assert "TUP (versi baru)" in answer  # the broken edit did not replace the good version
        assert process.returncode is None

        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), timeout=30)
        stderr = (await process.stderr.read()).decode()  # type: ignore[union-attr]
        assert process.returncode == 0, stderr
        assert "knowledge base reloaded" in stderr
        assert (
            "knowledge base not reloaded, keeping the previous one" in stderr
            and "invalid YAML" in stderr
        )
        assert "Traceback" not in stderr
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await server.stop()
