"""Demo part: the rules chase over simulated days — the working-day arithmetic, a dry run,
the risk check and reminder, a blocked item escalated, an overdue item escalated to the
department head. Runs after the base demo (people, v2-launch, 李娜's reply, #3 blocked)."""

from __future__ import annotations

from .tour import Guide


def show(demo: Guide) -> None:
    demo.section("Rules: reminders and escalations over simulated days")
    demo.out("\n#1 is due on Friday 4 December. Two working days before, collabd asks 李娜:")
    demo.collabd("calendar", "explain", "2026-12-04", "-2wd")
    demo.collabd("rules", "test", "--item", "v2-launch#1", at="2026-12-02T09:00")
    demo.collabd("tick", at="2026-12-02T09:00")
    demo.show_latest("li.na@example.com", "提醒")

    demo.out("\n#3 has been blocked since 30 November 10:00: after 2 working days it escalates.")
    demo.collabd("tick", at="2026-12-02T10:05")

    demo.out(
        "\nFriday 15:00: the weekly digest (红/黄/绿 and a Gantt chart) goes to the initiator,"
        " the coordinator and the departments' contacts."
    )
    demo.collabd("tick", at="2026-12-04T15:00")

    demo.out("\n#1 passes its deadline: the owner first, then her department head.")
    demo.collabd("tick", at="2026-12-07T09:00")
    demo.collabd("tick", at="2026-12-09T09:00")
    demo.show_latest("li.na@example.com")

    demo.out("\nWhat the rest of the month holds for #2 (nothing is sent by a simulation):")
    demo.collabd(
        "rules",
        "simulate",
        "--from",
        "2026-12-09T10:00",
        "--to",
        "2026-12-31T18:00",
        "--item",
        "v2-launch#2",
        at="2026-12-09T10:00",
    )
