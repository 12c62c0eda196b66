"""How the training steps run: several per TensorFlow call, XLA where it pays, chunks sized by
time. Imported only in worker processes (it imports TensorFlow).

The networks trained here are small, so an epoch step by step is dominated by Keras and
TensorFlow dispatching each step, not by arithmetic (bench/README.md). One call runs ``n``
steps in a graph loop instead; ``n`` is a tensor, so the chunk can grow or shrink between
calls without retracing, and the results do not depend on it: the same compiled step runs on
the same batches in the same order, however the steps are grouped.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import tensorflow as tf

# Conv layers: XLA's CPU convolutions were slower than TensorFlow's oneDNN kernels on the
# example CNN (bench/README.md); dense-only networks gained from fusing each step.
_XLA_SLOWER = frozenset({"conv2d"})
MAX_STEPS_PER_EXECUTION = 1024
_TRACING_CALLS = 1
_GROWTH = 4  # at most this many times more steps than the last call: noise must not overshoot


def xla_by_rule(spec: dict[str, Any], setting: str) -> bool:
    """Whether to compile the training step with XLA: a rule on the layer types, never a timing
    taken at run time, so the same spec always trains with the same numerics."""
    if setting != "auto":
        return setting == "on"
    return not any(layer["type"] in _XLA_SLOWER for layer in spec["model"]["layers"])


@dataclass
class ChunkSizer:
    """Steps per execution from measured time, so that one call takes about ``target_s``.

    Deadline and shutdown are checked between calls; a cancel (or a lost lease) also ends
    the current call after its next step (:meth:`Executor.interrupt`), so it lands within the
    lease thread's poll period plus one step, whatever the chunk's size. The first call
    traces (and compiles) the step and the loop around it, so its time says nothing about a
    step; it and the next run one step each, then each call is sized from the one before it.
    """

    target_s: float
    calls: int = 0
    per_step_s: float | None = None
    size: int = 1  # what the last measurement allows, before an epoch's end cuts a call short
    largest: int = 1

    def next(self, remaining: int) -> int:
        """Steps for the next call; ``remaining`` steps are left in the epoch."""
        if self.per_step_s is not None:
            fit = int(self.target_s / max(self.per_step_s, 1e-6))
            self.size = max(1, min(fit, self.size * _GROWTH, MAX_STEPS_PER_EXECUTION))
        self.largest = max(self.largest, self.size)
        return min(self.size, remaining)

    def observe(self, steps: int, seconds: float) -> None:
        self.calls += 1
        # An epoch's short last call is mostly fixed cost per call: it would shrink the next.
        if self.calls > _TRACING_CALLS and 2 * steps >= self.size:
            self.per_step_s = seconds / steps


class Executor:
    """Training steps of ``model`` over ``batches``: full batches several per call, an epoch's
    short last batch on its own.

    With XLA, full batches go through a step compiled once for their shape; the short last
    batch goes through the same step without XLA, because XLA compiles again for every new
    shape, and that compile costs far more than the one step could save. If XLA cannot
    compile the step at all, the first call fails before any step has run: the batches start
    over from the first one and the step is rebuilt without XLA, so the run goes on exactly
    as one trained without XLA from the start (``note`` says why).
    """

    def __init__(
        self,
        model: keras.Model,
        jit_compile: bool,
        batches: tf.data.Dataset,
        on_fallback: Callable[[str], None] | None = None,
    ) -> None:
        self.model, self.batches, self.signature = model, batches, batches.element_spec
        self.on_fallback, self.note = on_fallback, ""
        self._iterator, self._started = iter(batches), False
        # Read by the graph loop before every step: a stop set from another thread (the lease
        # thread's cancel) ends the call after the current step, not after the whole chunk.
        self._interrupted = tf.Variable(False, trainable=False)
        self._test: Any = None
        # Optimizer slots, loss and metric variables must exist before the first call (XLA
        # cannot create variables in a compiled step); fit() runs the same build first.
        model._symbolic_build(data_batch=_zeros(self.signature))
        self._compile(jit_compile)

    def _compile(self, jit_compile: bool) -> None:
        self.jit_compile = jit_compile
        plain = tf.function(self.model.train_step, input_signature=[self.signature])
        step = plain
        if jit_compile:
            step = tf.function(
                self.model.train_step, jit_compile=True, input_signature=[self.signature]
            )

        interrupted = self._interrupted

        @tf.function
        def execute(iterator: Any, n: tf.Tensor) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
            logs = step(next(iterator))
            done = tf.constant(1)
            while done < n and not interrupted:  # autograph: a graph while-loop
                logs = step(next(iterator))
                done += 1
            return logs, done

        self._execute, self._plain = execute, plain

    def run(self, n: int) -> tuple[dict[str, Any], int, float]:
        """Up to ``n`` full batches (fewer once interrupted); the logs of the last step, the
        steps run and the call's wall time."""
        started = time.perf_counter()
        try:
            logs, done = self._execute(self._iterator, tf.constant(n, tf.int32))
        except tf.errors.OpError as exc:
            if self._started or not self.jit_compile or not is_xla_failure(exc):
                raise
            self.note = xla_failure_note(exc)
            self._compile(False)
            if self.on_fallback is not None:
                self.on_fallback(self.note)
            self._iterator = iter(self.batches)  # the failed call took a batch
            logs, done = self._execute(self._iterator, tf.constant(n, tf.int32))
        self._started = True
        return logs, int(done), time.perf_counter() - started

    def interrupt(self) -> None:
        """Ends the current call (and every later one) after its next step; thread-safe."""
        self._interrupted.assign(True)

    def validate(self, batches: list[tuple[tf.Tensor, tf.Tensor]]) -> dict[str, float]:
        """What ``model.evaluate`` returns on these batches, bit for bit (the same test step
        on the same batches, metrics reset first, keys sorted as evaluate sorts them), without
        the iterator and callbacks evaluate sets up at every call: on the MLPs that setup cost
        as much CPU as the validation itself (bench/README.md)."""
        model = self.model
        if self._test is None:
            specs = [tf.TensorSpec([None, *t.shape[1:]], t.dtype) for t in batches[0]]
            self._test = tf.function(lambda x, y: model.test_step((x, y)), input_signature=specs)
        model.reset_metrics()
        for x, y in batches:
            self._test(x, y)
        return {k: float(v) for k, v in sorted(model.get_metrics_result().items())}

    def run_short(self) -> dict[str, Any]:
        """The epoch's short last batch."""
        logs: dict[str, Any] = self._plain(next(self._iterator))
        return logs


def onednn_enabled() -> bool:
    """Whether this process runs TensorFlow's CPU ops with oneDNN (fixed when TensorFlow
    loaded; the worker chooses it, see ``configure_tensorflow``). It changes the numerics."""
    try:
        from tensorflow.python.util import _pywrap_util_port  # no public API says it

        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        return os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "1"


def _zeros(signature: Any) -> Any:
    return tf.nest.map_structure(lambda spec: tf.zeros([1, *spec.shape[1:]], spec.dtype), signature)


def is_xla_failure(exc: BaseException) -> bool:
    """TensorFlow's way of saying XLA cannot compile a graph (an op without an XLA kernel,
    an unsupported dtype or dynamic shape): raised by the first call, before any step ran."""
    return isinstance(exc, tf.errors.OpError) and (
        "XLA" in str(exc) or "_XlaMustCompile" in str(exc)
    )


def xla_failure_note(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    # "Detected unsupported operations when trying to compile graph <name>[<attrs>] on
    # XLA_CPU_JIT: <op> (No registered ...)": the op is what a user can act on.
    _, found, cause = text.partition("_JIT: ")
    return (
        "XLA could not compile the training step, so it trained without XLA: "
        f"{(cause if found else text)[:240]}"
    )
