"""The documentation a newcomer reads from a fresh clone points at files that exist, and the
repository's copy of the HTTP contract keeps every line of the team's contract."""

from __future__ import annotations

import re

import pytest

from tests.fixtures.live import ROOT

SHARED_CONTRACT = ROOT.parent / "shared" / "docs" / "api.md"


def test_readme_links_point_inside_the_repository() -> None:
    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme)
    local = [t for t in targets if not re.match(r"[a-z]+://", t)]
    assert "docs/api.md" in local
    assert [t for t in local if not (ROOT / t).resolve().is_relative_to(ROOT)] == []
    assert [t for t in local if not (ROOT / t).exists()] == []


@pytest.mark.skipif(not SHARED_CONTRACT.exists(), reason="no team contract beside this clone")
def test_the_repository_contract_keeps_every_line_of_the_team_contract() -> None:
    ours = set((ROOT / "docs" / "api.md").read_text().splitlines())
    missing = [line for line in SHARED_CONTRACT.read_text().splitlines() if line not in ours]
    assert missing == [], "update docs/api.md from ../shared/docs/api.md"
