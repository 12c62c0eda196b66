"""The example specs in the repository's ``models/`` folder, offered by the dashboard's editor."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# A source checkout (`make run`, the Docker image) has them; a bare wheel install has none,
# and the editor then starts from its built-in spec.
EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "models"


def list_examples(folder: Path = EXAMPLES_DIR) -> list[dict[str, Any]]:
    items = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            spec = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a broken file in the folder must not break the editor
        items.append({"name": path.stem, "spec": spec})
    return items
