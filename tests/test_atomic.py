"""write_atomically: a file is either its previous content or the complete new one."""

from __future__ import annotations

import pytest

from qrnn._atomic import write_atomically


def test_writes_the_file_and_its_missing_folders(tmp_path):
    path = tmp_path / "run" / "metrics.json"
    assert write_atomically(path, lambda tmp: tmp.write_text("{}\n")) == path
    assert path.read_text() == "{}\n"
    assert [p.name for p in path.parent.iterdir()] == ["metrics.json"]


def test_a_failed_write_leaves_the_previous_file_and_no_temporary_file(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text("old\n")

    def half_written(tmp):
        tmp.write_text("ne")
        raise KeyboardInterrupt  # an interruption, not only an Exception

    with pytest.raises(KeyboardInterrupt):
        write_atomically(path, half_written)
    assert path.read_text() == "old\n"
    assert list(tmp_path.iterdir()) == [path]


def test_the_new_content_replaces_the_old(tmp_path):
    path = tmp_path / "history.json"
    path.write_text("old\n")
    write_atomically(path, lambda tmp: tmp.write_text("new\n"))
    assert path.read_text() == "new\n"
    assert list(tmp_path.iterdir()) == [path]
