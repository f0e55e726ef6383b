"""Floors for the reply reader on public reply-parser corpora.

The corpora live next to the repository (``../shared/corpora``) and are never
copied into it; ``bench/reply_corpora.py`` does the measuring and prints the
full table. The floors sit a little below what the reader achieves (see the
bench docstring for why the remaining cases differ by design), so a
regression fails here while the exact figures stay in the bench output.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpora"

pytestmark = pytest.mark.skipif(
    not CORPORA.is_dir(), reason=f"public reply corpora not found at {CORPORA} (../shared/corpora)"
)

# corpus: (minimum exact matches, minimum mean similarity). Achieved when the
# floors were set: email_reply_trimmer 57/64 and 0.917, talon 20/23 and 0.925.
FLOORS = {
    "email_reply_trimmer": (55, 0.90),
    "talon": (19, 0.90),
}


def _bench():
    spec = importlib.util.spec_from_file_location(
        "reply_corpora_bench", REPO / "bench" / "reply_corpora.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    return _bench()


@pytest.fixture(scope="module")
def results(bench):
    return bench.measure(CORPORA)


@pytest.mark.parametrize("corpus", sorted(FLOORS))
def test_corpus_floor(results, corpus: str) -> None:
    if corpus not in results:
        pytest.skip(f"{corpus} missing from {CORPORA}")
    result = results[corpus]
    min_matched, min_similarity = FLOORS[corpus]
    failing = [c.name for c in result.cases if not c.matches]
    assert result.matched >= min_matched, (
        f"{corpus}: {result.matched}/{len(result.cases)}; failing {failing}"
    )
    assert result.similarity >= min_similarity


def test_corpora_without_expectations_parse(bench) -> None:
    """crisp / mail-parser-reply / zapier: no expected text on disk, must not raise."""
    for name, (files, non_empty) in bench.smoke(CORPORA).items():
        assert files > 0, name
        assert non_empty >= files * 0.8, name
