"""`trainserve datasets ...`: upload (with a progress bar), list, show and delete datasets."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from enum import StrEnum
from pathlib import Path
from typing import IO, Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TransferSpeedColumn
from rich.table import Table

from app.client.errors import CliError, reported
from app.client.http import segment
from app.client.options import DEFAULT_URL, ApiKeyOption, JsonOption, UrlOption, connect
from app.client.render import make_console

datasets_app = typer.Typer(
    help="Upload your own data (npz, CSV, IDX, zip of class folders), list, show, delete.",
    no_args_is_help=True,
)

# Converting a large upload on the server takes a while after the last byte is sent.
UPLOAD_TIMEOUT = httpx.Timeout(900.0, connect=5.0)
NameArg = Annotated[str, typer.Argument(metavar="NAME", help="A dataset: name or name@version.")]


class Format(StrEnum):
    npz = "npz"
    csv = "csv"
    idx = "idx"
    zip = "zip"


class Header(StrEnum):
    auto = "auto"
    yes = "yes"
    no = "no"


class Preprocess(StrEnum):
    mnist = "mnist"
    none = "none"


class Target(StrEnum):
    label = "label"
    multilabel = "multilabel"
    value = "value"


class ProgressReader:
    """A file that advances a progress bar as httpx reads it (in 64 KiB chunks)."""

    def __init__(self, raw: IO[bytes], progress: Progress, task: TaskID) -> None:
        self.raw, self.progress, self.task = raw, progress, task

    def read(self, size: int = -1) -> bytes:
        chunk = self.raw.read(size)
        self.progress.advance(self.task, len(chunk))
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        position = self.raw.seek(offset, whence)
        if whence == 0 and offset == 0:
            self.progress.reset(self.task)
        return position

    def tell(self) -> int:
        return self.raw.tell()

    def fileno(self) -> int:  # lets httpx send a Content-Length instead of chunks
        return self.raw.fileno()


def default_name(path: Path) -> str:
    stem = path.name.split(".", 1)[0]
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-._")
    return name or "dataset"


@contextmanager
def _progress_files(
    paths: dict[str, Path], quiet: bool
) -> Iterator[dict[str, tuple[str, Any, str]]]:
    total = 0
    for path in paths.values():
        try:
            total += path.stat().st_size
        except OSError as exc:
            raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=Console(stderr=True),
        disable=quiet,
    )
    with ExitStack() as stack, progress:
        task = progress.add_task("uploading", total=total)
        files = {}
        for field, path in paths.items():
            raw = stack.enter_context(path.open("rb"))
            files[field] = (
                path.name,
                ProgressReader(raw, progress, task),
                "application/octet-stream",
            )
        yield files
        progress.update(task, description="converting on the server")


@datasets_app.command("upload")
def upload(
    path: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, help="The .npz, .csv or .zip (or IDX images)."),
    ],
    labels: Annotated[
        Path | None,
        typer.Argument(exists=True, dir_okay=False, help="IDX only: the labels file."),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", "-n", help="Default: the file name without extension.")
    ] = None,
    fmt: Annotated[
        Format | None, typer.Option("--format", help="Default: detected from the content.")
    ] = None,
    new_version: Annotated[
        bool, typer.Option("--new-version", help="Add a version to an existing name.")
    ] = False,
    label_column: Annotated[
        str | None, typer.Option(help="CSV: the label column's name or 0-based index.")
    ] = None,
    label_columns: Annotated[
        str | None, typer.Option(help="CSV, multilabel: the 0/1 columns, comma-separated.")
    ] = None,
    target: Annotated[
        Target, typer.Option(help="CSV: class labels, several 0/1 columns, or float values.")
    ] = Target.label,
    header: Annotated[Header, typer.Option(help="CSV: is the first row a header?")] = Header.auto,
    size: Annotated[
        str | None, typer.Option(help="HEIGHTxWIDTH of flat rows or kept images.")
    ] = None,
    preprocess: Annotated[
        Preprocess, typer.Option(help="zip: the MNIST recipe (default) or keep the pixels.")
    ] = Preprocess.mnist,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Upload a dataset once, then train any number of runs on it (POST /v1/datasets)."""
    paths = {"images": path, "labels": labels} if labels else {"file": path}
    fields: dict[str, str] = {"name": name or default_name(path)}
    options = {"format": fmt, "label_column": label_column, "label_columns": label_columns}
    fields |= {k: str(v) for k, v in (options | {"size": size}).items() if v is not None}
    for key, value, default in (
        ("header", header, Header.auto),
        ("preprocess", preprocess, Preprocess.mnist),
        ("target", target, Target.label),
    ):
        if value != default:
            fields[key] = value.value
    params = {"version": "new"} if new_version else {}
    with reported(), connect(url, api_key) as client, _progress_files(paths, quiet) as files:
        dataset = client.json(
            "POST", "/v1/datasets", data=fields, files=files, params=params, timeout=UPLOAD_TIMEOUT
        )
    if as_json:
        typer.echo(json.dumps(dataset, indent=2))
        return
    typer.echo(
        f"dataset {dataset['name']}@{dataset['version']}: {dataset['num_examples']:,} examples, "
        f"{_shape(dataset)}, classes {_classes(dataset)}, sha256 {dataset['sha256'][:12]}"
    )


@datasets_app.command("list")
def list_datasets(
    as_json: JsonOption = False, url: UrlOption = DEFAULT_URL, api_key: ApiKeyOption = None
) -> None:
    """Built-in and uploaded datasets (GET /v1/datasets)."""
    with reported(), connect(url, api_key) as client:
        answer = client.json("GET", "/v1/datasets")
    if as_json:
        typer.echo(json.dumps(answer, indent=2))
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("name", "version", "shape", "examples", "classes", "source"):
        table.add_column(column, no_wrap=column != "source")
    for d in answer.get("items", []):
        version = "-" if d.get("version") is None else str(d["version"])
        source = d.get("source", "")
        table.add_row(d["name"], version, _shape(d), f"{d['num_examples']:,}", _classes(d), source)
    make_console().print(table)


@datasets_app.command("show")
def show(
    name: NameArg,
    preview: Annotated[
        Path | None, typer.Option(help="Also save the preview grid (PNG) to this file.")
    ] = None,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """One dataset with its per-class counts (GET /v1/datasets/{name})."""
    with reported(), connect(url, api_key) as client:
        dataset = client.json("GET", f"/v1/datasets/{segment(name)}")
        if preview is not None:
            png = client.request("GET", f"/v1/datasets/{segment(name)}/preview.png").content
            try:
                preview.write_bytes(png)
            except OSError as exc:
                raise CliError(f"cannot write {preview}: {exc.strerror or exc}") from None
    if as_json:
        typer.echo(json.dumps(dataset, indent=2))
        return
    version = dataset.get("version")
    typer.echo(f"{dataset['name']}" + (f"@{version}" if version is not None else " (built-in)"))
    rows = [
        ("source", dataset.get("source")),
        ("shape", _shape(dataset)),
        ("examples", f"{dataset['num_examples']:,}"),
        ("format", dataset.get("format")),
        ("dtype", dataset.get("dtype")),
        ("sha256", dataset.get("sha256")),
        ("versions", ", ".join(map(str, dataset.get("versions") or [])) or None),
    ]
    for key, value in rows:
        if value:
            typer.echo(f"  {key:<9} {value}")
    counts = dataset.get("class_counts") or {}
    if counts:
        typer.echo("  per class " + "  ".join(f"{k}: {v:,}" for k, v in counts.items()))
    if preview is not None:
        typer.echo(f"preview saved to {preview}", err=True)


@datasets_app.command("delete")
def delete(name: NameArg, url: UrlOption = DEFAULT_URL, api_key: ApiKeyOption = None) -> None:
    """Delete an uploaded dataset (every version, or name@version)."""
    with reported(), connect(url, api_key) as client:
        client.json("DELETE", f"/v1/datasets/{segment(name)}")
    typer.echo(f"deleted {name}")


def _shape(d: dict[str, Any]) -> str:
    return "x".join(str(s) for s in d.get("shape", []))


def _classes(d: dict[str, Any]) -> str:
    if d.get("label_names"):
        return "none; yes/no columns " + ",".join(d["label_names"])
    if d.get("target") == "value":
        return "none; float targets"
    classes = d.get("classes") or []
    if len(classes) > 10:
        return f"{len(classes)} ({classes[0]}..{classes[-1]})"
    return ",".join(str(c) for c in classes)
