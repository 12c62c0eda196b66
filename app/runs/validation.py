"""Semantic checks of a run spec, done in the API process without TensorFlow.

A shape walk through the layers catches what Keras would only report minutes later in a
worker; every problem is collected so the user gets all of them in one answer.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from app.datasets import catalog
from app.datasets.catalog import DatasetInfo
from app.errors import FieldError, InvalidInput, InvalidSpec
from app.runs.checked import Checked
from app.runs.options import check_options
from app.runs.output_checks import check_output
from app.runs.shapes import walk_shapes
from app.runs.spec import (
    Conv2DLayer,
    DatasetSpec,
    DenseLayer,
    ModelSpec,
    RunSpec,
    TrainingSpec,
)
from app.settings import Settings

CLASSIFICATION_LOSSES = {
    "binary_crossentropy",
    "sparse_categorical_crossentropy",
    "categorical_crossentropy",
}


@dataclass
class Sections:
    """The top-level sections of a spec that parsed (None: it has schema problems)."""

    dataset: DatasetSpec | None
    model: ModelSpec | None
    training: TrainingSpec | None


def check_spec(spec: RunSpec, settings: Settings) -> tuple[RunSpec, list[FieldError]]:
    """The normalised spec and its warnings; raises InvalidSpec with every problem found."""
    checked = Checked(spec.model_copy(deep=True))
    _check(checked, settings, Sections(spec.dataset, spec.model, spec.training))
    if checked.errors:
        raise InvalidSpec(checked.errors)
    return checked.spec, checked.warnings


def check_sections(sections: Sections, settings: Settings) -> list[FieldError]:
    """The semantic problems of a spec with schema problems, in the sections that parsed."""
    # Unparsed sections stay None; _check reads only those that parsed.
    parts: dict[str, Any] = {
        "name": "",
        "dataset": sections.dataset,
        "model": sections.model,
        "training": sections.training,
    }
    spec = RunSpec.model_construct(**parts)
    checked = Checked(spec.model_copy(deep=True))
    _check(checked, settings, sections)
    return checked.errors


def _check(c: Checked, settings: Settings, have: Sections) -> None:
    """Every check whose inputs parsed; the spec's sections that did not are never read."""
    classes = _check_dataset(c, settings) if have.dataset else None
    _check_caps(c, settings, have)
    if have.dataset and have.model and c.dataset is not None:
        # The shape walk needs only the dataset's input shape, so a bad class list must not
        # hide layer mistakes: the user gets all of them in one answer.
        _normalise_input(c)
        walk_shapes(c, settings)
        if classes is not None and have.training:
            check_output(c, classes)
    if have.model and have.training:
        _check_training(c)
        check_options(c)  # reads the dataset only when it parsed (c.dataset)


def _check_dataset(c: Checked, settings: Settings) -> list[int] | None:
    ds = c.spec.dataset
    info = _find_dataset(c, settings)
    if info is None:
        return None
    c.dataset = info
    ds.name, ds.version = info.name, info.version
    ds.label_names = list(info.label_names) if info.label_names else None
    if info.target != "label":
        return _check_own_target(c, info)
    if ds.classes is None:
        ds.classes = list(info.classes)
        return ds.classes
    ok = True
    if not ds.classes:
        # load_split treats [] as "every class", so the normalised spec would not say what is trained.
        c.error(
            "/dataset/classes",
            "the class list is empty",
            "list the classes to keep, or leave classes out to use all of them",
        )
        return None
    for i, label in enumerate(ds.classes):
        if label not in info.classes:
            c.error(
                f"/dataset/classes/{i}",
                f"{ds.name} has no class {label}",
                f"use labels from {list(info.classes)}",
            )
            ok = False
    if len(set(ds.classes)) != len(ds.classes):
        c.error("/dataset/classes", "classes are listed more than once", "list each class once")
        ok = False
    if len(ds.classes) < 2 and ds.target == "label":
        c.error(
            "/dataset/classes",
            "a classifier needs at least two classes",
            "list two or more classes, e.g. [0, 1]",
        )
        ok = False
    return ds.classes if ok else None


def _check_own_target(c: Checked, info: DatasetInfo) -> list[int] | None:
    """An upload of yes/no columns or values trains exactly that: no classes to pick."""
    ds = c.spec.dataset
    ok = True
    if "target" not in ds.model_fields_set:
        ds.target = info.target  # type: ignore[assignment]
    elif ds.target != info.target:
        what = "yes/no label columns" if info.target == "multilabel" else "float targets"
        c.error(
            "/dataset/target",
            f"{info.name}@{info.version} holds {what}, not {ds.target!r} targets",
            f'use target "{info.target}", or leave target out',
        )
        ok = False
    if ds.classes:
        c.error(
            "/dataset/classes",
            f"{info.name} has no classes to pick from (its target is {info.target})",
            "leave classes out",
        )
        ok = False
    ds.classes = []
    return [] if ok else None


def _find_dataset(c: Checked, settings: Settings) -> DatasetInfo | None:
    """The dataset a spec names (``name``, ``name@version``, or ``name`` plus ``version``)."""
    ds = c.spec.dataset
    try:
        ref = catalog.parse_ref(ds.name, "/dataset/name")
    except InvalidInput as exc:
        c.errors.extend(exc.errors)
        return None
    if ds.version is not None and ref.version not in (None, ds.version):
        c.error(
            "/dataset/version",
            f"version {ds.version} contradicts the name {ds.name!r}",
            "give the version once: name@version, or name with version",
        )
        return None
    ref = catalog.DatasetRef(ref.name, ref.version or ds.version)
    info = catalog.find(settings, ref)
    if info is not None:
        return info
    latest = catalog.find(settings, catalog.DatasetRef(ref.name)) if ref.version else None
    if latest is not None:
        versions = ", ".join(map(str, latest.versions)) or "none: built-ins have no versions"
        c.error(
            "/dataset/name",
            f"dataset {ref.name!r} has no version {ref.version}",
            f"use one of its versions ({versions}), or the plain name for the latest",
        )
    else:
        known = list(catalog.known_names(settings))
        close = difflib.get_close_matches(ref.name, known, n=1, cutoff=0.6)
        guess = f'did you mean "{close[0]}"? ' if close else ""
        c.error(
            "/dataset/name",
            f"unknown dataset {ref.name!r}",
            f"{guess}use one of: {', '.join(known)} (GET /v1/datasets lists them)",
        )
    return None


def _check_caps(c: Checked, s: Settings, have: Sections) -> None:
    if have.model and len(c.spec.model.layers) > s.max_layers:
        c.error(
            "/model/layers",
            f"{len(c.spec.model.layers)} layers is over the cap of {s.max_layers}",
            f"use at most {s.max_layers} layers",
        )
    if not have.training:
        return
    t = c.spec.training
    if t.epochs > s.max_epochs:
        c.error(
            "/training/epochs",
            f"{t.epochs} epochs is over this service's cap of {s.max_epochs}",
            f"use at most {s.max_epochs} epochs",
        )
    if t.batch_size > s.max_batch_size:
        c.error(
            "/training/batch_size",
            f"batch size {t.batch_size} is over the cap of {s.max_batch_size}",
            f"use at most {s.max_batch_size}",
        )
    if t.queue is not None and t.queue not in s.queues:
        c.error(
            "/training/queue",
            f"this service has no queue {t.queue!r}",
            f"use one of: {', '.join(s.queues)}, or leave queue out",
        )
    if t.max_seconds is not None and t.max_seconds > s.max_run_seconds:
        c.error(
            "/training/max_seconds",
            f"{t.max_seconds:g} s is over the service's cap of {s.max_run_seconds:g} s",
            f"use at most {s.max_run_seconds:g}",
        )


def _normalise_input(c: Checked) -> None:
    model = c.spec.model
    assert c.dataset is not None
    height, width = c.dataset.shape
    model.input_shape = [height, width]
    # Dense layers see vectors: say so in the spec instead of reshaping silently, apart from
    # the layers, so that /model/layers/N means the same layer to the user, in warnings, in
    # the stored spec and in compare.
    model.flatten_input = isinstance(model.layers[0], DenseLayer)


def _check_training(c: Checked) -> None:
    layers = c.spec.model.layers
    hidden = [
        (i, layer)
        for i, layer in enumerate(layers[:-1])
        if isinstance(layer, DenseLayer | Conv2DLayer)
    ]
    for i, layer in hidden:
        at = f"{c.layer_at(i)}/activation"
        if layer.activation == "linear":
            c.warn(
                at,
                "a linear hidden layer adds no expressive power: stacked linear layers "
                "collapse into a single linear model",
                'use "relu"',
            )
        elif layer.activation == "sigmoid":
            c.warn(
                at,
                "sigmoid hidden layers saturate and train slowly",
                'use "relu", the usual default for hidden layers',
            )
        elif layer.activation == "softmax":
            c.warn(at, "softmax belongs on the output layer", 'use "relu"')
    lr = c.spec.training.optimizer.learning_rate
    if not 1e-5 <= lr <= 0.1:
        c.warn(
            "/training/optimizer/learning_rate",
            f"learning rate {lr:g} is far outside the usual range",
            "start around 0.001 for adam and rmsprop, 0.01 for sgd",
        )
