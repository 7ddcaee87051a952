"""The Indeks Kepuasan Masyarakat of PermenPANRB 14/2017 from survey answers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

# Grade boundaries on the converted 25–100 scale (PermenPANRB 14/2017).
GRADES = (
    (88.31, "A", "Sangat Baik"),
    (76.61, "B", "Baik"),
    (65.00, "C", "Kurang Baik"),
    (25.00, "D", "Tidak Baik"),
)


def skm_index(answers: Iterable[tuple[str, int]]) -> tuple[float, str, str] | None:
    """(index 25–100, grade letter, grade name) from (element, score 1–4) pairs; None if none.

    The index is the mean of the element averages, each element weighted equally (1/number of
    elements), times 25 — so an element answered by few people counts as much as the others.
    """
    scores: dict[str, list[int]] = defaultdict(list)
    for element, score in answers:
        if not 1 <= score <= 4:
            raise ValueError(f"{element}: score {score} is outside 1–4")
        scores[element].append(score)
    if not scores:
        return None
    averages = [sum(values) / len(values) for values in scores.values()]
    index = round(sum(averages) / len(averages) * 25, 2)
    letter, name = next((letter, name) for floor, letter, name in GRADES if index >= floor)
    return index, letter, name
