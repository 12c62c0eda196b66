"""Which file a model download serves: the .keras artifact or one of its verified exports."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.enums import RunStatus
from app.errors import Conflict, FieldError, NotFound, ServiceError
from app.runs import service
from app.settings import Settings
from app.storage.runs import served_file
from app.training.artifacts import FORMAT_FILES

# Neither format has a registered media type; these are the names their communities use.
MEDIA_TYPES = {
    "keras": "application/octet-stream",  # a zip archive, but not one to unpack
    "onnx": "application/onnx",
    "tflite": "application/vnd.tflite",
}
SUFFIXES = {"keras": ".keras", "onnx": ".onnx", "tflite": ".tflite"}


@dataclass(frozen=True)
class ModelDownload:
    path: Path
    media_type: str
    filename: str
    sha256: str


def model_download(settings: Settings, run_id: str, fmt: str) -> ModelDownload:
    """The file of ``run_id`` in format ``fmt``; problems name the formats the run has."""
    run = service.get_run(settings, run_id)
    if run.status != RunStatus.SUCCEEDED or not run.artifact_sha256:
        raise Conflict(f"Run {run_id} is {run.status}; only succeeded runs have a model.")
    exports = run.exports or {}
    available = ["keras"] + [f for f in ("onnx", "tflite") if _available(exports, f)]
    hint = f"use format={' or format='.join(available)}"
    if fmt not in FORMAT_FILES:
        raise _with_field(
            NotFound(f"There is no model format {fmt!r}; run {run_id} has {', '.join(available)}."),
            f"unknown format {fmt!r}",
            hint,
        )
    if fmt not in available:
        why = (exports.get(fmt) or {}).get("reason") or "it was trained before exports existed"
        raise _with_field(
            Conflict(f"Run {run_id} has no {fmt} export: {why}. It has {', '.join(available)}."),
            f"format {fmt!r} is unavailable for this run",
            hint,
        )
    sha256 = run.artifact_sha256 if fmt == "keras" else str(exports[fmt]["sha256"])
    path = served_file(settings, run_id, FORMAT_FILES[fmt], sha256)
    return ModelDownload(path, MEDIA_TYPES[fmt], f"{run.name}-{run_id}{SUFFIXES[fmt]}", sha256)


def _available(exports: dict[str, object], fmt: str) -> bool:
    export = exports.get(fmt)
    return isinstance(export, dict) and export.get("status") == "available"


def _with_field(exc: ServiceError, message: str, hint: str) -> ServiceError:
    exc.errors = [FieldError("/format", message, hint)]
    return exc
