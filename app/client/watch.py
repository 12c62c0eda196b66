"""`submit --watch`: a live epoch progress bar fed by the run's server-sent events."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from app.client.http import ApiClient
from app.client.render import epoch_line, number
from app.client.sse import follow_run_events


class EpochProgress:
    """The bar (terminals only) plus one printed line per epoch and status change."""

    def __init__(self, console: Console, epochs: int) -> None:
        self.console = console
        self._progress = Progress(
            TextColumn("epoch {task.completed}/{task.total}"),
            BarColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(),
            console=console,
            disable=not console.is_terminal,
            transient=True,
        )
        self._task: TaskID = self._progress.add_task("train", total=epochs or None, stats="")

    def __enter__(self) -> EpochProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def status(self, data: dict[str, Any]) -> None:
        line = f"status {data.get('status', '?')}"
        if data.get("attempts"):
            line += f" (attempt {data['attempts']})"
        if data.get("failure_reason"):
            line += f": {data['failure_reason']}"
        self.console.print(line)

    def epoch(self, data: dict[str, Any]) -> None:
        stats = "  ".join(
            f"{key} {number(data[key])}"
            for key in ("loss", "accuracy")
            if data.get(key) is not None
        )
        total = data.get("epochs") if isinstance(data.get("epochs"), int) else None
        self._progress.update(self._task, completed=data.get("epoch", 0), total=total, stats=stats)
        self.console.print(epoch_line(data))


def watch_run(client: ApiClient, run: dict[str, Any], console: Console) -> dict[str, Any]:
    """Follow the run until it is finished; returns the run as the server has it then."""
    run_id = run["id"]
    epochs = (run.get("progress") or {}).get("epochs") or 0
    with EpochProgress(console, epochs) as progress:
        for event in follow_run_events(client, run_id):
            if event.event == "epoch":
                progress.epoch(event.json())
            elif event.event == "status":
                progress.status(event.json())
    finished: dict[str, Any] = client.json("GET", f"/v1/runs/{run_id}")
    return finished
