"""No message csobot can send breaks a WhatsApp limit (the fake Graph API's own validator judges).

Three nets: every message of the SOP's conversations run on a WhatsApp chat; every answer and
topic choice of the shipped knowledge base; and any text with any choices (hypothesis).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.buttons import action
from bot.channels.whatsapp.messages import ChoiceTexts, bodies
from bot.config import load_config
from bot.knowledge.loader import load_knowledge
from bot.messages import Button, Outbound
from bot.runtime import Runtime
from tests.conftest import ROOT, FakeChat
from tests.fakes.graph_api import FakeGraphApi

CONFIG = load_config(ROOT / "config.yaml")
TEXTS = ChoiceTexts(
    CONFIG.texts.choose_prompt, CONFIG.texts.list_button, CONFIG.texts.numbered_choice
)
JUDGE = FakeGraphApi()  # never started: only its validator is used


def check(outbound: Outbound) -> list[dict[str, Any]]:
    """The bodies for `outbound`, each accepted by the validator, every choice still offered."""
    made = bodies(outbound, TEXTS)
    for body in made:
        JUDGE._validate({"messaging_product": "whatsapp", "to": "6281234567890", **body})
    offered = "\n".join(_strings(made))
    for button in outbound.buttons:
        assert button.label in offered, button.label
    return made


async def test_every_message_of_the_sop_on_whatsapp_fits(runtime: Runtime) -> None:
    chat = FakeChat(runtime, "6281234567890", channel="whatsapp")
    await chat.identify()
    await chat.send("/profil")
    await chat.send("/bantuan")
    await chat.send("/pengaduan")
    await chat.send("bagaimana cara mengajukan tup?")
    await chat.press("Ya, terjawab")
    await chat.send("retur")  # vague: the bot offers topics
    await chat.send("bagaimana prosedur mutasi pegawai antar kementerian lembaga")
    await chat.send("/status")
    await chat.send("x" * 5000)  # too long
    await chat.send("/hapus_data")
    await chat.send("/batal")
    sent = [outbound for _, outbound in chat.channel.sender.delivered]
    assert len(sent) > 20
    assert any(len(outbound.buttons) > 3 for outbound in sent)  # a list was needed
    for outbound in sent:
        check(outbound)


def test_every_knowledge_base_answer_and_topic_choice_fits() -> None:
    knowledge = load_knowledge(ROOT / "knowledge", CONFIG.sections)
    values = CONFIG.office_values()
    yes, no = CONFIG.texts.button_answered, CONFIG.texts.button_not_answered
    for entry in knowledge.entries:
        text = CONFIG.text(
            "kb_answer",
            ticket="KNS-20261123-0001",
            title=entry.title,
            answer=entry.render_answer(values),
            legal_basis=entry.render_legal_basis(),
        )
        made = check(Outbound(text, (Button(yes, action("answer", 1, "yes")), Button(no))))
        assert made[-1]["type"] == "interactive"  # the buttons always come as buttons
    titles = sorted((entry.title for entry in knowledge.entries), key=len, reverse=True)
    for start in range(0, len(titles), CONFIG.matcher.max_candidates):
        group = titles[start : start + CONFIG.matcher.max_candidates]
        buttons = [Button(title, action("topic", 1, n)) for n, title in enumerate(group)]
        buttons.append(Button(CONFIG.texts.button_none_of_these, action("topic", 1, "none")))
        check(Outbound(CONFIG.texts.clarify, tuple(buttons)))


LABELS = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=90).filter(
    lambda label: label.strip() != ""
)


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(alphabet=st.characters(codec="utf-8"), max_size=6000),
    labels=st.lists(LABELS, max_size=14, unique_by=str.casefold),
    with_actions=st.booleans(),
)
def test_any_text_with_any_choices_fits(text: str, labels: list[str], with_actions: bool) -> None:
    buttons = tuple(
        Button(label, action("topic", 1, n) if with_actions else None)
        for n, label in enumerate(labels)
    )
    check(Outbound(text, buttons))


def test_long_texts_keep_their_buttons_after_them(tmp_path: Path) -> None:
    long = "Penjelasan panjang. " * 80  # over the 1,024 characters of an interactive body
    made = check(Outbound(long, (Button("Ya, terjawab"), Button("Belum"))))
    assert [body["type"] for body in made] == ["text", "interactive"]
    assert made[1]["interactive"]["body"]["text"] == CONFIG.texts.choose_prompt
    many = tuple(Button(f"Pilihan {n}") for n in range(12))  # more than a list holds
    (numbered,) = check(Outbound("Pilih:", many))
    assert numbered["type"] == "text" and "12. Pilihan 11" in numbered["text"]["body"]


def _strings(value: Any) -> list[str]:
    """Every string inside a body (titles, descriptions, text)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []
