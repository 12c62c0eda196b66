"""The state of one spec check: the spec being normalised, its warnings and errors."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.datasets.catalog import DatasetInfo
from app.errors import FieldError
from app.runs.spec import RunSpec


@dataclass
class Checked:
    spec: RunSpec
    warnings: list[FieldError] = field(default_factory=list)
    errors: list[FieldError] = field(default_factory=list)
    dataset: DatasetInfo | None = None

    def layer_at(self, index: int) -> str:
        return f"/model/layers/{index}"  # the user's numbering: nothing is ever inserted

    def error(self, pointer: str, message: str, hint: str) -> None:
        self.errors.append(FieldError(pointer, message, hint))

    def warn(self, pointer: str, message: str, hint: str) -> None:
        self.warnings.append(FieldError(pointer, message, hint))
