"""SOP step 1: identify the stakeholder, once, remembered by their channel user id.

Answers go into a draft in the conversation row and reach the stakeholder row only when the
profile is complete, so /batal in the middle of a change never damages the stored profile.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from bot.buttons import action
from bot.intents import Intent
from bot.messages import Button, InboundKind
from bot.turn import Turn
from handlers import consultation

NAME = "identify_name"
ROLE = "identify_role"
SATKER_CODE = "identify_satker_code"
ORGANISATION = "identify_organisation"
PHONE = "identify_phone"
STEPS = (NAME, ROLE, SATKER_CODE, ORGANISATION, PHONE)
FIELDS = {
    NAME: "full_name",
    ROLE: "role",
    SATKER_CODE: "satker_code",
    ORGANISATION: "organisation",
    PHONE: "phone",
}
ROLE_BUTTON = "role"  # role:<role id>
FIELD_BUTTON = "profile_field"  # profile_field:<step>: change one field from /profil
EDIT = "edit"  # in the draft: the one field being changed (a profile already complete)
FIELD_LABELS = {
    NAME: "button_edit_name",
    ROLE: "button_edit_role",
    SATKER_CODE: "button_edit_satker_code",
    ORGANISATION: "button_edit_organisation",
    PHONE: "button_edit_phone",
}
PHONE_BUTTON = "phone"  # phone:use (the number the channel gave) / phone:other (type one)
SKIPPED = ""  # a phone the stakeholder chose not to give
KEPT_QUESTION = "kept_question"  # questions written during identification, asked after it

_SATKER_CODE = re.compile(r"[0-9]{6}")
_PUNCTUATION = re.compile(r"[^\w/]+")
_CODE_IN_TEXT = re.compile(r"(?<![0-9])[0-9]{6}(?![0-9])")
_NAME = re.compile(r"^[^\W\d_](?:[^\W\d_]|[ .,'’()/-])*$")  # "Budi (CV Maju Jaya)" too


def is_complete(turn: Turn) -> bool:
    stakeholder = turn.stakeholder
    return (
        stakeholder is not None
        and stakeholder.full_name is not None
        and stakeholder.role is not None
    )


def start_edit(turn: Turn) -> None:
    """/profil → "Ubah data diri": which field? One at a time; the rest stays as stored."""
    turn.say("ask_which_field", field_buttons(turn))


def field_buttons(turn: Turn) -> list[Button]:
    stakeholder = turn.stakeholder
    role = turn.config.role(stakeholder.role if stakeholder else None)
    steps = [
        step for step in STEPS if step != SATKER_CODE or role is None or role.needs_satker_code
    ]
    return [Button(turn.text(FIELD_LABELS[step]), action(FIELD_BUTTON, step)) for step in steps]


def edit_field(turn: Turn, step: str) -> None:
    """Ask for one field of a complete profile; nothing changes until a valid answer comes."""
    if step not in FIELD_LABELS or not is_complete(turn):
        turn.say("stale_button")
        return
    turn.inbound_label = turn.text(FIELD_LABELS[step])
    turn.set_step(step, draft={EDIT: step})
    _ask(turn, step)


def polite_name(name: str | None) -> str:
    """Names are kept as typed and addressed politely: "siti rahmawati" → "Siti Rahmawati"."""
    name = name or ""
    return name.title() if name == name.lower() else name


def kept_fields(turn: Turn) -> tuple[bool, list[str]]:
    """For /batal: (changing a complete profile, the fields of a first identification kept)."""
    draft = _draft(turn)
    if EDIT in draft:
        return True, []
    names = turn.config.texts.field_names
    return False, [
        names[field]  # type: ignore[index]
        for field in FIELDS.values()
        if draft.get(field) not in (None, "")
    ]


def resume(turn: Turn) -> None:
    """Ask the first question the draft has no answer for (after consent, restart or /batal)."""
    draft = _draft(turn)
    if EDIT in draft:  # changing one field: ask it again
        field_step = str(draft[EDIT])
        turn.set_step(field_step)
        _ask(turn, field_step)
        return
    step = _next_missing(turn, draft)
    if step is None:
        _finish(turn, draft)
        return
    turn.set_step(step)
    _ask(turn, step)


async def handle(turn: Turn) -> None:
    """An answer (text, button or shared contact) to the current identification step."""
    step = turn.step
    inbound = turn.inbound
    if step == ROLE and inbound.kind is InboundKind.BUTTON:
        await _answer_role(turn)
        return
    if step == PHONE and inbound.kind is InboundKind.CONTACT:
        _answer_contact(turn)
        return
    if step == PHONE and inbound.kind is InboundKind.BUTTON:
        _answer_phone_button(turn)
        return
    if inbound.kind is not InboundKind.TEXT:
        _ask(turn, step)
        return
    text = " ".join(inbound.text.split())
    if _not_an_answer(turn, step, text):
        return
    go_on = True
    if step == NAME:
        if not (2 <= len(text) <= 100 and _NAME.match(text)):
            turn.say("invalid_name")
            return
        go_on = _store(turn, NAME, text)
    elif step == ROLE:
        role = _role_by_label(turn, text)
        if role is None:
            _ask(turn, ROLE, unclear=True)
            return
        go_on = _store(turn, ROLE, role)
    elif step == SATKER_CODE:
        code = satker_code_in(text)
        if code is None:
            turn.say("invalid_satker_code")
            return
        go_on = _store(turn, SATKER_CODE, code)
    elif step == ORGANISATION:
        if not 2 <= len(text) <= 150:
            turn.say("invalid_organisation", organisation_label=_organisation_label(turn))
            return
        go_on = _store(turn, ORGANISATION, text)
    elif step == PHONE:
        if text.casefold() == turn.text("button_skip").casefold():
            go_on = _store(turn, PHONE, SKIPPED)
        else:
            phone = normalise_phone(text)
            if phone is None:
                turn.say("invalid_phone")
                return
            go_on = _store(turn, PHONE, phone)
    if go_on:
        resume(turn)


async def _answer_role(turn: Turn) -> None:
    pressed = turn.inbound.action
    role = (
        turn.config.role(pressed.arg(0))
        if pressed is not None and pressed.name == ROLE_BUTTON
        else None
    )
    if role is None:
        turn.say("stale_button")
        return
    turn.inbound_label = role.label
    if _store(turn, ROLE, role.id):
        resume(turn)


def _answer_phone_button(turn: Turn) -> None:
    """The number the channel told us (WhatsApp) confirmed, or the wish to type another."""
    pressed = turn.inbound.action
    given = normalise_phone(turn.inbound.sender_phone or "")
    if pressed == action(PHONE_BUTTON, "use") and given is not None:
        turn.inbound_label = turn.text("button_phone_confirm")
        if _store(turn, PHONE, given):
            resume(turn)
    elif pressed == action(PHONE_BUTTON, "other"):
        turn.inbound_label = turn.text("button_phone_other")
        turn.set_step(PHONE, draft={**_draft(turn), "phone_typed": True})
        _ask(turn, PHONE)
    else:
        turn.say("stale_button")


def _answer_contact(turn: Turn) -> None:
    inbound = turn.inbound
    if inbound.contact_user_id is not None and inbound.contact_user_id != inbound.user_id:
        turn.say("contact_not_own")
        return
    phone = normalise_phone(inbound.phone or "")
    if phone is None:
        turn.say("invalid_phone")
        return
    turn.inbound_label = phone
    if _store(turn, PHONE, phone):
        resume(turn)


def ascii_digits(text: str) -> str:
    """Full-width and other Unicode digits (typed on some phone keyboards) as 0–9, so a code
    or number is accepted exactly when its ASCII form is, and stored in that form."""
    return unicodedata.normalize("NFKC", text)


def satker_code_in(text: str) -> str | None:
    """The 6-digit code in an answer: the whole answer ("123 456" too), or the one 6-digit
    number in it ("satker saya 223344", "kode 654321 pak")."""
    digits = ascii_digits(text)
    whole = digits.replace(" ", "")
    if _SATKER_CODE.fullmatch(whole):
        return whole
    found = _CODE_IN_TEXT.findall(digits)
    return found[0] if len(found) == 1 and _SATKER_CODE.fullmatch(found[0]) else None


def normalise_phone(text: str) -> str | None:
    """Indonesian mobile/landline numbers as +62…; None when it cannot be a phone number."""
    digits = re.sub(r"[\s().-]", "", ascii_digits(text))
    if digits.startswith("+"):
        digits = digits[1:]
    elif digits.startswith("0"):
        digits = "62" + digits[1:]
    if (
        not (digits.isascii() and digits.isdigit())
        or not digits.startswith("62")
        or not 10 <= len(digits) <= 15
    ):
        return None
    return "+" + digits


def _draft(turn: Turn) -> dict[str, Any]:
    assert turn.conversation is not None
    return dict(turn.conversation.data.get("draft") or {})


def _store(turn: Turn, step: str, value: str) -> bool:
    """Keep an answer; True when identification goes on (False: a single field was changed)."""
    draft = _draft(turn)
    if EDIT in draft:
        return _store_one(turn, step, value)
    draft[FIELDS[step]] = value
    if step == ROLE:
        role = turn.config.role(value)
        if role is not None and not role.needs_satker_code:
            draft["satker_code"] = None
    turn.set_step(step, draft=draft)
    return True


def _store_one(turn: Turn, step: str, value: str) -> bool:
    """A changed field goes straight into the profile; "Lewati" on the phone keeps the stored
    number. A new role that needs a satker code the profile lacks asks for it next."""
    stakeholder = turn.stakeholder
    assert stakeholder is not None
    if not (step == PHONE and value == SKIPPED):
        setattr(stakeholder, FIELDS[step], value)
    if step == ROLE:
        role = turn.config.role(value)
        if role is not None and not role.needs_satker_code:
            stakeholder.satker_code = None
        elif stakeholder.satker_code is None:
            stakeholder.updated_at = turn.now
            turn.session.add(stakeholder)
            turn.set_step(SATKER_CODE, draft={EDIT: SATKER_CODE})
            _ask(turn, SATKER_CODE)
            return False
    stakeholder.updated_at = turn.now
    turn.session.add(stakeholder)
    turn.set_step("idle", draft=None)
    turn.say("profile_updated" if value != SKIPPED else "profile_kept")
    turn.reply(profile_text(turn), field_buttons(turn), key="profile")
    return False


def _next_missing(turn: Turn, draft: dict[str, Any]) -> str | None:
    for step in STEPS:
        field = FIELDS[step]
        if field in draft:
            continue
        if step == SATKER_CODE:
            role = turn.config.role(draft.get("role"))
            if role is not None and not role.needs_satker_code:
                continue
        return step
    return None


def _not_an_answer(turn: Turn, step: str, text: str) -> bool:
    """A question or an offer of money typed instead of the answer to this step: the question is
    kept and asked as soon as identification is complete (it is never taken for a name or an
    organisation), the offer gets the no-gratification reply; then the step is asked again."""
    reader = turn.knowledge.intents
    if reader is None:
        return False
    reading = reader.read(text)
    if reading.gift:
        turn.say("gift_refused")
        _ask(turn, step)
        return True
    if not reading.substantive or not (reading.asks or reading.first is Intent.VAGUE):
        return False
    if step == SATKER_CODE and satker_code_in(text) is not None:
        return False
    if step == PHONE and normalise_phone(text) is not None:
        return False
    assert turn.conversation is not None
    kept = list(turn.conversation.data.get(KEPT_QUESTION) or [])
    # As received: the transcript keeps it so, and the ticket's transcript will take it in.
    turn.set_step(step, **{KEPT_QUESTION: [*kept, turn.inbound.text]})
    turn.say("question_kept")
    _ask(turn, step)
    return True


async def ask_kept_question(turn: Turn) -> None:
    """Once identification is complete, the question written during it becomes a ticket."""
    conversation = turn.conversation
    if conversation is None or not is_complete(turn) or turn.step != "idle":
        return
    texts = [str(text) for text in conversation.data.get(KEPT_QUESTION) or []]
    if not texts:
        return
    turn.set_step("idle", **{KEPT_QUESTION: None})
    ticket = await consultation.ask(turn, "\n".join(texts))
    await consultation.file_messages(turn, texts, ticket)


def _ask(turn: Turn, step: str, *, unclear: bool = False) -> None:
    if step == NAME:
        turn.say("ask_name")
    elif step == ROLE:
        buttons = [Button(role.label, action(ROLE_BUTTON, role.id)) for role in turn.config.roles]
        turn.say("role_unclear" if unclear else "ask_role", buttons)
    elif step == SATKER_CODE:
        turn.say("ask_satker_code")
    elif step == ORGANISATION:
        turn.say("ask_organisation", organisation_label=_organisation_label(turn))
    elif step == PHONE:
        given = normalise_phone(turn.inbound.sender_phone or "")
        if given is not None and not _draft(turn).get("phone_typed"):
            # The channel vouches for the number (WhatsApp): confirm it rather than type it.
            turn.reply(
                turn.text("ask_phone_confirm", phone=given),
                [
                    Button(turn.text("button_phone_confirm"), action(PHONE_BUTTON, "use")),
                    Button(turn.text("button_phone_other"), action(PHONE_BUTTON, "other")),
                    Button(turn.text("button_skip")),
                ],
                key="ask_phone_confirm",
                values={"phone": given},
            )
            return
        if given is not None:
            turn.reply(turn.text("ask_phone_typed"), [Button(turn.text("button_skip"))])
            return
        # Typed or as the skip button's label, "Lewati" arrives as text on every channel.
        turn.reply(
            turn.text("ask_phone"),
            [Button(turn.text("button_skip"))],
            key="ask_phone",
            request_phone=turn.text("button_share_phone"),
        )


def _organisation_label(turn: Turn) -> str:
    role = turn.config.role(_draft(turn).get("role"))
    return role.organisation_label if role is not None else "nama instansi"


def _role_by_label(turn: Turn, text: str) -> str | None:
    """The role a typed answer names: its label, or one of the words an office listed for it
    ("rekanan", "PPK pak", "saya operator sakti"); the longest such phrase in the answer decides,
    and a tie between roles ("bendahara" alone) names none."""
    typed = f" {_plain_words(text)} "
    best: dict[str, int] = {}
    for role in turn.config.roles:
        for phrase in (role.label, role.id.replace("_", " "), *role.words):
            wanted = _plain_words(phrase)
            if wanted and f" {wanted} " in typed:
                best[role.id] = max(best.get(role.id, 0), len(wanted))
    if not best:
        return None
    longest = max(best.values())
    named = [role_id for role_id, length in best.items() if length == longest]
    return named[0] if len(named) == 1 else None


def _plain_words(text: str) -> str:
    """Lower case, punctuation as spaces ("Pihak Ketiga/Supplier" keeps its slash)."""
    return " ".join(_PUNCTUATION.sub(" ", text.casefold()).split())


def _finish(turn: Turn, draft: dict[str, Any]) -> None:
    stakeholder = turn.stakeholder
    assert stakeholder is not None
    stakeholder.full_name = draft["full_name"]
    stakeholder.role = draft["role"]
    stakeholder.satker_code = draft.get("satker_code")
    stakeholder.organisation = draft["organisation"]
    stakeholder.phone = draft.get("phone") or None
    stakeholder.updated_at = turn.now
    turn.session.add(stakeholder)
    turn.set_step("idle")
    assert turn.conversation is not None
    turn.conversation.data = {
        key: value for key, value in turn.conversation.data.items() if key != "draft"
    }
    name = polite_name(stakeholder.full_name).rstrip(". ")  # "…, M.Si." ends no sentence twice
    turn.reply(
        turn.text("identified", name=name),
        key="identified",
        values={"name": name},
        clear_keyboard=True,
    )
    if not turn.conversation.data.get(KEPT_QUESTION):  # else it is asked now (the router)
        turn.say("ask_question")


def profile_text(turn: Turn) -> str:
    stakeholder = turn.stakeholder
    assert stakeholder is not None
    role = turn.config.role(stakeholder.role)
    dash = "–"
    return turn.text(
        "profile",
        name=stakeholder.full_name or dash,
        role=role.label if role else dash,
        satker_code=stakeholder.satker_code or dash,
        organisation=stakeholder.organisation or dash,
        phone=stakeholder.phone or dash,
    )
