"""compose.scale.yml is a valid Compose file, checked by Debian's docker-compose."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_compose_scale_file_is_valid_and_needs_a_store() -> None:
    # `make test` installs Debian's docker-compose; a missing one fails rather than skips.
    assert shutil.which("docker-compose"), "run: sudo apt-get install -y docker-compose"

    def config(**env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker-compose", "-f", "compose.scale.yml", "config", "-q"],
            cwd=ROOT,
            env={"PATH": os.environ["PATH"], **env},
            capture_output=True,
            text=True,
            check=False,
        )

    ok = config(TRAINSERVE_ARTIFACTS_URL="s3://bucket/prefix")
    assert ok.returncode == 0, ok.stderr
    missing = config()
    assert missing.returncode != 0 and "s3://bucket/prefix" in missing.stderr
