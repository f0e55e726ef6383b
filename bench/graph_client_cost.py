"""What the HTTP side of the Graph backend costs a starting collabd: import time and memory
of Microsoft's msgraph-sdk (with azure-identity, as its docs pair them) against the thin
client collabd uses (daemon/mail/transport/graph_http.py on requests, with msal for the
token), beside a bare interpreter as the baseline.

Each variant runs in a fresh interpreter (imports are cached per process), in alternating
order round after round; printed: min / median / max of the wall time of the imports (and,
for the SDK, building the request builders of a delta query, which loads its generated
modules) and of the process's peak RSS growth over the bare interpreter.

    .venv/bin/python bench/graph_client_cost.py [ROUNDS] [--sdk-python PATH]

msgraph-sdk is not a collabd dependency: give `--sdk-python` a Python whose environment has
it (e.g. a scratch venv with `pip install msgraph-sdk azure-identity msal httpx`); without
one, the SDK rows are skipped.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

PROBE = """
import json, resource, sys, time
sys.path.insert(0, {repo!r})
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
{code}
took = time.perf_counter() - started
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"seconds": took, "rss_kib": after - before}}))
"""

VARIANTS = {
    "bare interpreter": ("collabd", "pass"),
    "requests": ("collabd", "import requests"),
    "httpx": ("sdk", "import httpx"),
    "msal": ("collabd", "import msal"),
    # graph_http.py itself imports only the standard library; what it adds is these two.
    "thin client: requests + msal": ("collabd", "import requests, msal"),
    "msgraph-sdk + azure-identity (import)": (
        "sdk",
        "from msgraph import GraphServiceClient\nfrom azure.identity import ClientSecretCredential",
    ),
    "msgraph-sdk + azure-identity (client + delta request builder)": (
        "sdk",
        "from msgraph import GraphServiceClient\n"
        "from azure.identity import ClientSecretCredential\n"
        "client = GraphServiceClient(ClientSecretCredential('t', 'c', 's'), "
        "['https://graph.microsoft.com/.default'])\n"
        "client.users.by_user_id('u').mail_folders.by_mail_folder_id('inbox').messages.delta\n"
        "client.users.by_user_id('u').send_mail\n"
        "client.users.by_user_id('u').calendar.get_schedule",
    ),
}


def run(python: str, code: str) -> dict:
    out = subprocess.run(
        [python, "-c", PROBE.format(repo=str(REPO), code=code)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(rounds: int, sdk_python: str | None) -> None:
    pythons = {"collabd": sys.executable, "sdk": sdk_python}
    results: dict[str, list[dict]] = {name: [] for name in VARIANTS}
    names = [n for n, (where, _) in VARIANTS.items() if pythons[where]]
    for index in range(rounds):
        order = names if index % 2 == 0 else list(reversed(names))
        for name in order:
            where, code = VARIANTS[name]
            results[name].append(run(pythons[where], code))
    print(f"{rounds} rounds, fresh interpreter each, alternating order")
    print(f"{'variant':<64} {'import ms (min/med/max)':>26} {'RSS MiB (min/med/max)':>24}")
    for name in names:
        seconds = [r["seconds"] * 1000 for r in results[name]]
        rss = [r["rss_kib"] / 1024 for r in results[name]]
        print(f"{name:<64} {_spread(seconds):>26} {_spread(rss):>24}")


def _spread(values: list[float]) -> str:
    return f"{min(values):.0f} / {statistics.median(values):.0f} / {max(values):.0f}"


if __name__ == "__main__":
    args = sys.argv[1:]
    sdk = None
    if "--sdk-python" in args:
        at = args.index("--sdk-python")
        sdk = args[at + 1]
        del args[at : at + 2]
    main(int(args[0]) if args else 7, sdk)
