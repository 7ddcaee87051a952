"""config.yaml: the shipped file is valid; a broken one is refused with file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.config import ConfigError, load_config
from tests.conftest import ROOT

SHIPPED = ROOT / "config.yaml"


def test_shipped_config_serves_the_three_seed_offices() -> None:
    config = load_config(SHIPPED)
    zones = {key: office.timezone for key, office in config.offices.items()}
    assert zones == {
        "pekalongan": "Asia/Jakarta",
        "pontianak": "Asia/Pontianak",
        "majene": "Asia/Makassar",
    }
    assert config.offices["pekalongan"].type == "A1" and config.offices["majene"].type == "A2"
    assert config.current_office.name == "KPPN Pekalongan"
    assert (
        config.with_office("majene").current_office.hours_text() == "Senin–Jumat 08.00–16.00 WITA"
    )


def test_complaint_channels_are_those_of_the_seeds() -> None:
    pekalongan = load_config(SHIPPED).offices["pekalongan"].complaint_channels
    assert pekalongan[3:] == [
        "Email: pengaduan.kppn072@kemenkeu.go.id",
        "Telepon: 08112671969",
        "Whatsapp: 08112671969",
        "Kotak Saran dan Pengaduan KPPN Pekalongan",
    ]
    majene = load_config(SHIPPED, "majene").current_office.complaint_channels
    assert majene[-1] == "Kontak resmi atau tatap muka secara langsung melalui masing-masing KPPN."


def broken_copy(tmp_path: Path, old: str, new: str) -> Path:
    text = SHIPPED.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "config.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("old", "new", "key", "expected"),
    [
        (
            "timezone: Asia/Makassar",
            "timezone: Asia/Majene",
            "offices.majene.timezone",
            "unknown time zone",
        ),
        ("max_candidates: 3", "max_candidates: tiga", "matcher.max_candidates", "valid integer"),
        (
            'friday: "08:00-16:00"',
            'friday: "16:00-08:00"',
            "offices.pekalongan.service_hours.friday",
            "HH:MM-HH:MM",
        ),
        ("office: pekalongan", "office: semarang", "(top level)", "is not one of the offices"),
        (
            "  ticket_prefix: KNS",
            "  ticket_prefix: KNS\n  colour: blue",
            "service.colour",
            "Extra inputs",
        ),
        (
            "  identified: Terima kasih, {name}.",
            "  identified: Terima kasih, {nama}.",
            "texts",
            "unknown placeholder",
        ),
    ],
)
def test_an_invalid_config_names_file_line_and_key(
    tmp_path: Path, old: str, new: str, key: str, expected: str
) -> None:
    path = broken_copy(tmp_path, old, new)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert f"{path}:" in message and key in message and expected in message
    if key not in ("(top level)", "texts"):
        assert f"{path}:{line_of(path, new.strip().splitlines()[-1])}: {key}" in message


def test_a_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = broken_copy(tmp_path, "  resolution_working_days: 3", "  resolution_working_days: [3")
    with pytest.raises(ConfigError, match=rf"{path}:\d+: invalid YAML"):
        load_config(path)


def test_the_program_stops_with_exit_code_2_on_an_invalid_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = broken_copy(tmp_path, "timezone: Asia/Makassar", "timezone: Mars/Olympus")
    assert main(["--config", str(path), "config", "check"]) == 2
    error = capsys.readouterr().err
    assert f"{path}:{line_of(path, 'Mars/Olympus')}: offices.majene.timezone" in error
    assert "Traceback" not in error
    assert main(["--config", str(tmp_path / "missing.yaml"), "config", "check"]) == 2
    assert "configuration file not found" in capsys.readouterr().err


def test_secrets_come_from_the_environment_or_dotenv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.settings import Settings

    for name in ("TELEGRAM_BOT_TOKEN", "DATABASE_URL", "TELEGRAM_API_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "TELEGRAM_BOT_TOKEN=42:FROM-DOTENV\nTELEGRAM_API_BASE_URL=http://127.0.0.1:8081/bot\n"
    )
    settings = Settings(_env_file=dotenv)  # type: ignore[call-arg]
    assert settings.telegram_bot_token is not None
    assert settings.telegram_bot_token.get_secret_value() == "42:FROM-DOTENV"
    assert settings.telegram_api_base_url == "http://127.0.0.1:8081/bot"
    assert settings.database_url == "sqlite+aiosqlite:///data/csobot.db"
    assert "FROM-DOTENV" not in repr(settings)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "43:FROM-ENV")
    env_wins = Settings(_env_file=dotenv)  # type: ignore[call-arg]
    assert env_wins.telegram_bot_token is not None
    assert env_wins.telegram_bot_token.get_secret_value() == "43:FROM-ENV"


def test_the_desk_names_its_channel_and_the_earlier_group_key_still_works(tmp_path: Path) -> None:
    from tests.conftest import config_for_tests

    documents = {"accepted_types": ["pdf"], "max_size_mb": 5}
    current = load_config(
        config_for_tests(
            tmp_path, desk={"channel": "telegram", "group_id": -100123, "documents": documents}
        )
    )
    earlier = load_config(
        config_for_tests(tmp_path, desk={"telegram_group_id": -100123, "documents": documents})
    )
    assert (current.desk.channel, current.desk.group_id) == ("telegram", -100123)
    assert (earlier.desk.channel, earlier.desk.group_id) == ("telegram", -100123)
    with pytest.raises(ConfigError, match="desk.channel"):
        load_config(config_for_tests(tmp_path, desk={"channel": "fax", "documents": documents}))
    menu = load_config(SHIPPED).texts.command_menu
    assert (
        list(menu)[:2] == ["baru", "status"] and menu["pengaduan"] == "Saluran pengaduan layanan"
    )
