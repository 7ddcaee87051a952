"""What a button carries (bot/buttons.py), what an outbox row keeps of a message
(Outbound.payload), and how a typed command line is split (parse_command)."""

from __future__ import annotations

import json

import pytest

from bot.addresses import Address, ToDesk, ToStaff, ToStaffRole, ToStakeholder
from bot.buttons import MAX_BYTES, Action, ButtonDataError, action, decode, typed_choice
from bot.messages import Button, Outbound, OutgoingFile, ThreadAction, parse_command


@pytest.mark.parametrize(
    ("built", "encoded"),
    [
        (action("consent", "yes"), "consent:yes"),
        (action("answer", 12, "no"), "answer:12:no"),
        (action("docs_done", 7), "docs_done:7"),
        (action("reload"), "reload"),
        (action("pick", "KNS-20261123-0001", "a.b_c"), "pick:KNS-20261123-0001:a.b_c"),
    ],
)
def test_actions_encode_and_decode_to_the_same_action(built: Action, encoded: str) -> None:
    assert built.encode() == encoded
    assert decode(encoded) == built
    decoded = decode(built.encode())
    assert decoded is not None and (decoded.name, decoded.args) == (built.name, built.args)


def test_arguments_are_strings_of_what_was_given() -> None:
    built = action("answer", 12, "no")
    assert built.args == ("12", "no")
    assert (built.arg(0), built.arg(1), built.arg(2)) == ("12", "no", None)


def test_an_action_of_exactly_the_limit_is_accepted() -> None:
    name = "a" * MAX_BYTES
    assert decode(name) == Action(name)
    assert decode(name + "b") is None


@pytest.mark.parametrize(
    "data",
    [
        None,
        "",
        "UPPER:1",
        "a:b c",
        "x" * 80,
        ":1",  # no name
        "1abc",  # a name starts with a letter
        "consent:yés",
        "take:5:ä",
    ],
)
def test_data_no_handler_could_have_made_decodes_to_none(data: str | None) -> None:
    assert decode(data) is None


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("take", ("x" * 70,)),  # longer than 64 bytes
        ("a" * 65, ()),
        ("Take", ("1",)),
        ("take me", ()),
        ("", ()),
        ("take", ("1 2",)),
        ("take", ("a:b",)),  # the separator inside an argument would split it
        ("take", ("ä",)),
        ("take", ("１２",)),
    ],
)
def test_actions_buttons_cannot_carry_are_refused_when_built(
    name: str, args: tuple[str, ...]
) -> None:
    with pytest.raises(ButtonDataError):
        Action(name, args)
    with pytest.raises(ButtonDataError):
        action(name, *args)


def test_a_long_action_is_refused_by_its_byte_length() -> None:
    action("t", "x" * (MAX_BYTES - 2))  # "t:" + 62 = 64 bytes: fits
    with pytest.raises(ButtonDataError, match="longer than 64 bytes"):
        action("t", "x" * (MAX_BYTES - 1))


def test_a_trailing_newline_is_a_character_buttons_cannot_carry() -> None:
    with pytest.raises(ButtonDataError):
        action("take", "5\n")
    with pytest.raises(ButtonDataError):
        Action("take\n")
    assert decode("consent:yes\n") is None


@pytest.mark.parametrize(
    ("data", "index", "expected"),
    [
        ("take:5", 0, 5),
        ("take:0042", 0, 42),
        ("answer:12:no", 0, 12),
        ("answer:12:no", 1, None),  # not a number
        ("take", 0, None),  # missing
        ("take:5", 3, None),  # missing
        ("take:", 0, None),  # empty
        ("take:-1", 0, None),
        ("take:1.5", 0, None),
    ],
)
def test_int_arg(data: str, index: int, expected: int | None) -> None:
    decoded = decode(data)
    assert decoded is not None
    assert decoded.int_arg(index) == expected


def test_int_arg_refuses_digits_that_are_not_ascii() -> None:
    """Action refuses them when built; an Action made around that check still gives None."""
    full_width = object.__new__(Action)
    object.__setattr__(full_width, "name", "take")
    object.__setattr__(full_width, "args", ("１２", "٣"))
    assert "１２".isdigit() and int("１２") == 12  # what a plain isdigit()/int() would accept
    assert full_width.int_arg(0) is None
    assert full_width.int_arg(1) is None


# ---- Outbound.payload() → Outbound.from_payload() ---------------------------------------------


def stored(outbound: Outbound) -> Outbound:
    """Through the outbox as the database keeps it: JSON, so tuples come back as lists."""
    payload = json.loads(json.dumps(outbound.payload()))
    return Outbound.from_payload(payload)


@pytest.mark.parametrize(
    "address",
    [
        ToStakeholder(3),
        ToDesk(41),
        ToStaffRole("cso"),
        ToStaffRole("kepala_seksi", "pencairan"),
        ToStaff("Andi CSO"),
    ],
)
def test_every_address_kind_survives_the_outbox(address: Address) -> None:
    again = stored(Outbound("halo", to=address))
    assert again.to == address
    assert type(again.to) is type(address)


def test_a_full_outbound_survives_the_outbox() -> None:
    outbound = Outbound(
        text="📎 Berkas dari Siti\nbaris kedua",
        buttons=(
            Button("Ya, terjawab", action("answer", 12, "yes")),
            Button("Belum", action("answer", 12, "no")),
            Button("Lewati"),  # a reply-keyboard choice: no action
        ),
        to=ToDesk(12),
        key="desk_file_from_stakeholder",
        values={"name": "Siti", "ticket": "KNS-20261123-0001"},
        file=OutgoingFile(
            "files/tickets/KNS-20261123-0001/surat.pdf", "surat.pdf", ("test", "1001", "77")
        ),
        request_phone="Bagikan nomor HP",
        clear_keyboard=True,
        desk_ticket_id=12,
        thread_action=ThreadAction.REOPEN,
    )
    again = stored(outbound)
    assert again == outbound
    assert again.buttons[0].action == action("answer", 12, "yes")
    assert again.buttons[2].action is None
    assert again.file is not None and again.file.source == ("test", "1001", "77")
    assert again.thread_action is ThreadAction.REOPEN


@pytest.mark.parametrize("thread_action", list(ThreadAction))
def test_each_thread_action_survives_the_outbox(thread_action: ThreadAction) -> None:
    assert stored(Outbound("KNS · judul", thread_action=thread_action)).thread_action is (
        thread_action
    )


def test_a_file_that_could_not_be_stored_and_has_no_source_survives() -> None:
    outbound = Outbound("berkas", file=OutgoingFile(None, "surat.pdf"))
    assert stored(outbound).file == OutgoingFile(None, "surat.pdf", None)


def test_defaults_survive_and_are_not_written() -> None:
    outbound = Outbound("halo")
    assert outbound.payload() == {"text": "halo", "buttons": []}
    again = stored(outbound)
    assert again == outbound
    assert (again.to, again.key, again.values, again.file) == (None, None, {}, None)
    assert (again.request_phone, again.clear_keyboard, again.desk_ticket_id) == (
        None,
        False,
        None,
    )


def test_a_forged_button_in_a_stored_payload_loses_its_action() -> None:
    payload = {"text": "x", "buttons": [{"label": "A", "data": "BAD DATA"}]}
    assert Outbound.from_payload(payload).buttons == (Button("A", None),)


# ---- parse_command -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/Ambil@csobot_bot 5", ("ambil", "5")),
        ("/ambil@csobot_bot", ("ambil", "")),
        ("/AMBIL 5", ("ambil", "5")),
        ("  /status  ", ("status", "")),
        ("/cari Siti status:queued", ("cari", "Siti status:queued")),
        ("/selesai\nJawaban dua baris", ("selesai", "Jawaban dua baris")),
        ("/selesai Baris satu\nbaris dua", ("selesai", "Baris satu\nbaris dua")),
        ("/selesai\nJawaban\ndua baris", ("selesai", "Jawaban\ndua baris")),
        ("/transkrip   KNS-20261123-0001  ", ("transkrip", "KNS-20261123-0001")),
    ],
)
def test_commands_are_split_into_name_and_arguments(line: str, expected: tuple[str, str]) -> None:
    assert parse_command(line) == expected


@pytest.mark.parametrize("line", ["halo", "/", "", "   ", "/ ambil", "a /ambil"])
def test_lines_that_are_not_commands(line: str) -> None:
    assert parse_command(line) is None


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2", 1),
        ("(3)", 2),
        ("nomor 1", 0),
        ("no. 2", 1),
        ("Yang pertama mbak", 0),
        ("yg kedua", 1),
        ("pilihan ke-3 aja pak", 2),
        ("yang ke 2 ya bu", 1),
        ("ketiga daeng", 2),
        ("nomor satu", 0),
        ("Tup", 1),  # the label itself
        ("nomor 5", None),  # no such option
        ("satu lagi pak", None),  # a message that starts like a choice
        ("pertama kali mengajukan tup bagaimana", None),
        ("yang kedua-duanya", None),
    ],
)
def test_an_option_pointed_at_in_words_is_that_option(typed: str, expected: int | None) -> None:
    assert typed_choice(typed, ["GUP", "TUP", "LS"]) == expected
