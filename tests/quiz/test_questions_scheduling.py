"""The quality of one review is the lowest among the parts of the attempt that were answered."""

import pytest

from quiz.scheduling import attempt_quality


@pytest.mark.parametrize(
    "mark, results, quality",
    [
        ("correct", [], 5),
        ("correct", [True, True], 5),
        ("correct", [True, False], 1),
        ("close", [True], 3),
        ("differential", [True], 2),
        ("wrong", [True], 1),
        ("", [True, True], 5),  # the diagnosis not asked: only the questions
        ("", [False], 1),
        ("", [], None),  # nothing answered: no review
    ],
)
def test_the_lowest_part_decides(mark, results, quality):
    assert attempt_quality(mark, results) == quality
