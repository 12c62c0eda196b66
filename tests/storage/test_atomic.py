"""One way to write a file atomically, with one temporary name the sweep recognises."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.storage.atomic import atomic_file, atomic_path, is_temporary


def test_a_writer_that_needs_a_path_gets_the_final_suffix(tmp_path: Path) -> None:
    final = tmp_path / "run" / "model.keras"
    with atomic_path(final) as tmp:
        assert tmp.suffix == ".keras" and is_temporary(tmp.name)  # Keras checks the suffix
        tmp.write_bytes(b"model")
        assert not final.exists()  # readers see nothing until the rename
    assert final.read_bytes() == b"model"
    assert [p.name for p in final.parent.iterdir()] == ["model.keras"]


@pytest.mark.parametrize("form", ["path", "handle"])
def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path, form: str) -> None:
    final = tmp_path / "checkpoint-00001.npz"
    final.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="crash"):
        _crash_mid_write(final, form)
    assert final.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == [final.name]


def _crash_mid_write(final: Path, form: str) -> None:
    if form == "path":
        with atomic_path(final) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("crash")
    with atomic_file(final) as fh:
        fh.write(b"half")
        raise RuntimeError("crash")
