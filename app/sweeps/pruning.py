"""Asked by a worker after each recorded epoch of a trial: is this trial hopeless?"""

from __future__ import annotations

from app.db.session import read_session
from app.db.tables import Run, Sweep
from app.sweeps.sampler import PRUNER_STARTUP_TRIALS, should_prune
from app.sweeps.trials import PRUNED, past_trials, sweep_trials


def prune_reason(url: str, run_id: str, sweep_id: str, epoch: int) -> str | None:
    """Why the trial should stop now (its failure_reason), or None to let it go on."""
    with read_session(url) as s:
        sweep = s.get(Sweep, sweep_id)
        if sweep is None or not sweep.spec.get("pruning"):
            return None
        runs = sweep_trials(s, sweep_id)
        current = next((r for r in runs if r.id == run_id), None)
        others = [r for r in runs if r.id != run_id]
        # After its last epoch a trial is done training: pruning it would only waste it.
        if current is None or epoch >= current.epochs or len(others) < PRUNER_STARTUP_TRIALS:
            return None
        trials = past_trials(s, sweep.spec, [*others, current], with_epochs=True)
    *earlier, mine = trials
    if not should_prune(sweep.spec, earlier, mine):
        return None
    return _describe(sweep, current, mine.intermediate, epoch)


def _describe(sweep: Sweep, run: Run, values: dict[int, float], epoch: int) -> str:
    from app.sweeps.sampler import pruning_metric

    metric = pruning_metric(sweep.spec)
    value = values.get(epoch)
    shown = f"{value:.4g}" if value is not None else "?"
    return (
        f"{PRUNED}: {metric} {shown} after epoch {epoch} is worse than the median of earlier "
        f"trials of sweep {sweep.id} at that epoch"
    )
