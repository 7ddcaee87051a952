"""YAML loading that remembers where each value came from.

Office staff edit config.yaml and knowledge/*.yaml by hand; an error must name the file and line,
not a Python path. PyYAML's composed node tree carries the marks, so we keep it beside the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# libyaml's C loader when PyYAML was built with it (the wheels are): several times faster.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlSyntaxError(ValueError):
    """The file is not valid YAML; the message already carries file and line."""


@dataclass(frozen=True)
class YamlDocument:
    """Parsed data plus the node tree used to find line numbers."""

    path: Path
    data: Any
    root: yaml.Node | None

    def line_of(self, location: Sequence[str | int]) -> int | None:
        """1-based line of the value at `location` (keys and list indexes), or of its nearest parent."""
        node = self.root
        line = node.start_mark.line + 1 if node is not None else None
        for part in location:
            child = _child(node, part)
            if child is None:
                break
            node = child
            line = node.start_mark.line + 1
        return line


def _child(node: yaml.Node | None, part: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.value == str(part):
                return value_node
    if (
        isinstance(node, yaml.SequenceNode)
        and isinstance(part, int)
        and 0 <= part < len(node.value)
    ):
        return node.value[part]
    return None


def load_yaml(path: Path) -> YamlDocument:
    """Read a YAML file; syntax errors become one readable line."""
    text = path.read_text(encoding="utf-8")
    loader = _Loader(text)
    try:
        # One pass: compose the node tree (for line numbers), then build the data from it.
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise YamlSyntaxError(f"{where}: invalid YAML: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"{path}: invalid YAML: {exc}") from exc
    finally:
        loader.dispose()
    return YamlDocument(path=path, data=data, root=root)
