"""`csobot run`'s event loop: uvloop when installed, asyncio's on request or without it."""

from __future__ import annotations

import asyncio
import sys

import pytest

from bot.cli import EXIT_CONFIG, main
from bot.event_loop import EventLoopError, loop_factory

uvloop = pytest.importorskip("uvloop", reason="uvloop is not installed here (Windows?)")


def test_auto_and_uvloop_choose_uvloop_where_installed() -> None:
    for choice in ("auto", "uvloop"):
        factory = loop_factory(choice)
        assert factory is not None
        loop = factory()
        try:
            assert isinstance(loop, uvloop.Loop)
            assert loop.run_until_complete(asyncio.sleep(0, result="ok")) == "ok"
        finally:
            loop.close()


def test_asyncio_chooses_asyncios_own_loop() -> None:
    assert loop_factory("asyncio") is None


def test_without_uvloop_auto_falls_back_and_uvloop_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop now raises ImportError
    assert loop_factory("auto") is None
    with pytest.raises(EventLoopError, match="not installed"):
        loop_factory("uvloop")


def test_an_unknown_choice_is_a_configuration_problem(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CSOBOT_EVENT_LOOP", "trio")
    assert main(["run"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "CSOBOT_EVENT_LOOP must be one of auto, uvloop, asyncio (found 'trio')" in err
    assert "Traceback" not in err
