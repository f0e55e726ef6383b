"""libical's iTIP check (icalcomponent_check_restrictions) on a calendar object.

Debian's gir1.2-ical-3.0 + python3-gi give the system python3 libical bindings; the test
venv cannot import `gi`, so the check runs in /usr/bin/python3 as a subprocess.
tests/install-mailstack.sh installs both packages."""

from __future__ import annotations

import subprocess

SYSTEM_PYTHON = "/usr/bin/python3"
SCRIPT = r"""
import sys
import gi
gi.require_version("ICalGLib", "3.0")
from gi.repository import ICalGLib
component = ICalGLib.Component.new_from_string(sys.stdin.read())
if component is None:
    print("libical could not parse the object")
    sys.exit(0)
valid = component.check_restrictions()
for line in component.as_ical_string().splitlines():
    if line.startswith("X-LIC-ERROR"):
        print(line)
if not valid:
    print("check_restrictions() failed")
"""


def itip_problems(ics: bytes) -> list[str]:
    """What libical finds wrong (its X-LIC-ERROR lines); an empty list means valid."""
    result = subprocess.run(
        [SYSTEM_PYTHON, "-c", SCRIPT],
        input=ics.decode("utf-8"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"libical check could not run: {result.stderr.strip()}")
    return [line for line in result.stdout.splitlines() if line.strip()]
