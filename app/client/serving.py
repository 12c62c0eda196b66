"""`trainserve predict` and `trainserve models ...`: named models and their predictions."""

from __future__ import annotations

import json
import mimetypes
import re
from pathlib import Path
from typing import Annotated, Any

import typer

from app.client.errors import EXIT_SERVER_ERROR, CliError, reported
from app.client.http import ApiClient, segment
from app.client.options import DEFAULT_URL, ApiKeyOption, JsonOption, UrlOption, connect
from app.client.render import make_console, models_table, prediction_text

RUN_ID = re.compile(r"[0-9a-f]{22}")

models_app = typer.Typer(help="Point names at succeeded runs, and list them.", no_args_is_help=True)


def _file_parts(paths: list[Path]) -> list[tuple[str, tuple[str, bytes, str]]]:
    parts = []
    for path in paths:
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        parts.append(("file", (path.name, content, mime)))
    return parts


def request_predictions(
    client: ApiClient, target: str, paths: list[Path], preprocess: bool = True
) -> dict[str, Any]:
    """POST the images to the run when ``target`` looks like a run id (falling back to a model
    of that name if there is no such run), else to the model named ``target``."""
    kwargs: dict[str, Any] = {
        "files": _file_parts(paths),
        "params": {} if preprocess else {"preprocess": "none"},
    }
    model_path = f"/v1/models/{segment(target)}/predict"
    if not RUN_ID.fullmatch(target):
        return dict(client.json("POST", model_path, **kwargs))
    try:
        return dict(client.json("POST", f"/v1/runs/{segment(target)}/predict", **kwargs))
    except CliError as run_error:
        if run_error.status != 404:
            raise
        try:
            return dict(client.json("POST", model_path, **kwargs))
        except CliError as model_error:
            raise (run_error if model_error.status == 404 else model_error) from None


def predict(
    target: Annotated[
        str, typer.Argument(metavar="RUN_OR_NAME", help="A run id (22 hex digits) or a model name.")
    ],
    images: Annotated[
        list[Path],
        typer.Argument(metavar="IMAGE...", exists=True, dir_okay=False, help="PNG or JPEG files."),
    ],
    preprocess: Annotated[
        bool,
        typer.Option(
            help="MNIST-style preprocessing on the server (--no-preprocess sends ?preprocess=none)."
        ),
    ] = True,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Classify images with a trained run or a named model; one line per image."""
    with reported(), connect(url, api_key) as client:
        answer = request_predictions(client, target, images, preprocess)
        predictions = answer.get("predictions")
        if not isinstance(predictions, list) or len(predictions) != len(images):
            raise CliError(
                f"the server sent {len(predictions or [])} predictions for {len(images)} images",
                EXIT_SERVER_ERROR,
            )
    if as_json:
        typer.echo(json.dumps(answer, indent=2))
        return
    model = answer.get("model") or {}
    if model:
        typer.echo(f"model {model.get('name')} (run {model.get('run_id')})", err=True)
    for path, prediction in zip(images, predictions, strict=True):
        typer.echo(f"{path} → {prediction_text(prediction)}")


@models_app.command("set")
def set_model(
    name: Annotated[str, typer.Argument(help="The model name, e.g. 'digits'.")],
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID", help="A succeeded run.")],
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Point a model name at a succeeded run (PUT /v1/models/{name})."""
    with reported(), connect(url, api_key) as client:
        client.json("PUT", f"/v1/models/{segment(name)}", json={"run_id": run_id})
    typer.echo(f"model {name} → run {run_id}")


@models_app.command("list")
def list_models(
    as_json: JsonOption = False, url: UrlOption = DEFAULT_URL, api_key: ApiKeyOption = None
) -> None:
    """List model names and the runs they point at (GET /v1/models)."""
    with reported(), connect(url, api_key) as client:
        answer = client.json("GET", "/v1/models")
    if as_json:
        typer.echo(json.dumps(answer, indent=2))
        return
    items = answer.get("items", []) if isinstance(answer, dict) else answer or []
    if items:
        make_console().print(models_table(items))
    else:
        typer.echo("no models")
