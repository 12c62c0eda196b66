"""How runs, models and predictions look on a terminal (and in a pipe)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table

from app.client.errors import format_field_error

EPOCH_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")


def make_console(stream: TextIO | None = None) -> Console:
    """A console that never wraps ids in a pipe (rich would assume 80 columns there)."""
    file = stream or sys.stdout
    console = Console(file=file, highlight=False, markup=False)
    if not console.is_terminal:
        console = Console(file=file, highlight=False, markup=False, width=200)
    return console


def number(value: Any, digits: int = 4) -> str:
    if isinstance(value, bool) or value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) else str(value)


def timestamp(value: str | None) -> str:
    if not value:
        return "-"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S") + ("Z" if moment.tzinfo else "")


def epoch_line(data: dict[str, Any]) -> str:
    parts = [f"epoch {data.get('epoch', '?')}/{data.get('epochs', '?')}"]
    parts += [f"{key} {number(data[key])}" for key in EPOCH_KEYS if data.get(key) is not None]
    if isinstance(data.get("seconds"), (int, float)):
        parts.append(f"({data['seconds']:.1f}s)")
    return "  ".join(parts)


def accuracy_of(run: dict[str, Any]) -> str:
    """Test accuracy once evaluated, else the last epoch's training accuracy marked with ~."""
    evaluation = run.get("evaluation") or {}
    if evaluation.get("accuracy") is not None:
        return number(evaluation["accuracy"])
    metrics = run.get("metrics") or {}
    return f"~{number(metrics['accuracy'])}" if metrics.get("accuracy") is not None else "-"


# What a test evaluation reports, by task: classifiers an accuracy, regressions their errors.
TEST_KEYS = ("accuracy", "loss", "mae", "rmse")


def test_line(evaluation: dict[str, Any]) -> str:
    """The held-out numbers the run has: accuracy and loss, or loss, MAE and RMSE."""
    shown = [key for key in TEST_KEYS if evaluation.get(key) is not None]
    return "  ".join(f"{key} {number(evaluation[key])}" for key in shown) or "-"


def progress_of(run: dict[str, Any]) -> str:
    progress = run.get("progress") or {}
    return f"{progress.get('epoch', 0)}/{progress.get('epochs', '?')}"


TRAINING_ACCURACY_NOTE = (
    "~ = training accuracy of the last epoch so far; the test accuracy replaces it once the "
    "run is evaluated"
)


def runs_table(runs: list[dict[str, Any]]) -> Table:
    accuracies = [accuracy_of(run) for run in runs]
    table = Table(
        box=None,
        pad_edge=False,
        header_style="bold",
        caption=TRAINING_ACCURACY_NOTE if any(a.startswith("~") for a in accuracies) else None,
        caption_justify="left",
    )
    for name in ("id", "name", "status", "epoch", "accuracy", "created"):
        table.add_column(
            name,
            no_wrap=name in ("id", "created"),
            justify="right" if name in ("epoch", "accuracy") else "left",
        )
    for run, accuracy in zip(runs, accuracies, strict=True):
        table.add_row(
            run.get("id", "?"),
            run.get("name", ""),
            run.get("status", "?"),
            progress_of(run),
            accuracy,
            timestamp(run.get("created_at")),
        )
    return table


def describe_layer(layer: dict[str, Any]) -> str:
    # No weight decay is the default; "l2=0.0" on every layer would only be noise.
    params = ", ".join(
        f"{k}={v}" for k, v in layer.items() if k != "type" and not (k == "l2" and not v)
    )
    return f"{layer.get('type', '?')}({params})"


def _model_steps(model: dict[str, Any], layers: list[dict[str, Any]]) -> list[str]:
    steps = ["(flatten the image)"] if model.get("flatten_input") else []
    return steps + [describe_layer(layer) for layer in layers]


def run_summary(run: dict[str, Any]) -> list[str]:
    spec = run.get("spec") or {}
    dataset = spec.get("dataset") or {}
    layers = (spec.get("model") or {}).get("layers") or []
    lines = [
        ("id", run.get("id")),
        ("name", run.get("name")),
        ("status", f"{run.get('status')} (attempts: {run.get('attempts', 0)})"),
        ("dataset", " ".join(f"{k}={v}" for k, v in dataset.items())),
        ("model", " -> ".join(_model_steps(spec.get("model") or {}, layers)) or "-"),
        ("epoch", progress_of(run)),
        ("created", timestamp(run.get("created_at"))),
        ("started", timestamp(run.get("started_at"))),
        ("finished", timestamp(run.get("finished_at"))),
    ]
    if run.get("metrics"):
        epochs = (run.get("progress") or {}).get("epochs", "?")
        lines.append(("metrics", epoch_line({**run["metrics"], "epochs": epochs})))
    evaluation = run.get("evaluation") or {}
    if evaluation:
        lines.append(("test", test_line(evaluation)))
    if run.get("artifact"):
        art = run["artifact"]
        lines.append(("artifact", f"sha256 {art.get('sha256')} ({art.get('bytes')} bytes)"))
    if run.get("failure_reason"):
        lines.append(("failure", run["failure_reason"]))
    lines += [("warning", format_field_error(w)) for w in run.get("warnings") or []]
    return [f"{label:<11}{value}" for label, value in lines]


def final_line(run: dict[str, Any]) -> str:
    status = run.get("status", "?")
    line = f"run {run.get('id')} {status}"
    evaluation = run.get("evaluation") or {}
    if evaluation.get("accuracy") is not None:
        line += (
            f": test accuracy {number(evaluation['accuracy'])}"
            f" (loss {number(evaluation.get('loss'))})"
        )
    if run.get("failure_reason"):
        line += f": {run['failure_reason']}"
    return line


def prediction_text(pred: dict[str, Any]) -> str:
    """One prediction of any of the contract's shapes, in a few words."""
    if "value" in pred:
        return f"value {number(pred['value'])}"
    if "labels" in pred:
        labels = ", ".join(str(label) for label in pred["labels"]) or "(none)"
        return f"labels {labels}"
    label = pred.get("label", "?")
    if isinstance(pred.get("confidence"), (int, float)):  # one sigmoid unit
        return f"{label}  (confidence {number(pred['confidence'])})"
    if isinstance(pred.get("probability"), (int, float)):
        return f"{label}  (probability {number(pred['probability'])})"
    probs = pred.get("probabilities")
    if isinstance(probs, list) and probs:
        return f"{label}  (probability {number(max(probs))} of {len(probs)} classes)"
    return str(label)


def models_table(models: list[dict[str, Any]]) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for name in ("name", "run id", "updated"):
        table.add_column(name, no_wrap=True)
    for model in models:
        run_id = model.get("run_id") or (model.get("run") or {}).get("id") or "-"
        when = model.get("updated_at") or model.get("created_at")
        table.add_row(str(model.get("name", "?")), str(run_id), timestamp(when))
    return table


def comparison_table(comparison: dict[str, Any]) -> Table:
    """Runs as columns; their results, then every spec difference, as rows."""
    runs = comparison.get("runs") or []
    best = comparison.get("best") or {}
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("")
    for run in runs:
        table.add_column(f"{run.get('name', '')}\n{run.get('id', '?')}", no_wrap=True)

    def mark(key: str, run: dict[str, Any]) -> str:
        value = number((run.get("test") or {}).get(key))
        return f"{value} *" if best.get(f"test_{key}") == run.get("id") else value

    table.add_row("status", *[r.get("status", "?") for r in runs])
    table.add_row("epoch", *[progress_of(r) for r in runs])
    table.add_row("test accuracy", *[mark("accuracy", r) for r in runs])
    table.add_row("test loss", *[mark("loss", r) for r in runs])
    table.add_row("train seconds", *[number(r.get("train_seconds"), 1) for r in runs])
    for diff in comparison.get("spec_differences") or []:
        table.add_row(diff["pointer"], *["-" if v is None else str(v) for v in diff["values"]])
    return table
