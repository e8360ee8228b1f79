"""OrderedOutput: parallel stages read as one sequence in Dockerfile order."""

from __future__ import annotations

from wharf.builder.output import OrderedOutput


def test_later_stages_wait_for_earlier_ones_then_flush_in_order() -> None:
    lines: list[str] = []
    output = OrderedOutput([0, 2, 5], lines.append)
    first, second, third = output.writer(0), output.writer(2), output.writer(5)
    third.__call__("c1 ")
    second("b1 ")
    first("a1 ")
    assert lines == ["a1 "]  # only the head stage streams live
    output.finish(5)  # a later stage may finish first: still held back
    assert lines == ["a1 "]
    output.finish(0)
    assert lines == ["a1 ", "b1 "]
    second("b2 ")
    assert lines[-1] == "b2 "  # now the head: live again
    output.finish(2)
    assert "".join(lines) == "a1 b1 b2 c1 "


def test_flush_all_shows_everything_buffered_after_a_failure() -> None:
    lines: list[str] = []
    output = OrderedOutput([0, 1], lines.append)
    output.writer(1)("failing step output")
    output.flush_all()
    assert lines == ["failing step output"]
    output.writer(0)("")
    output.writer(0)("late line")
    assert lines == ["failing step output", "late line"]
