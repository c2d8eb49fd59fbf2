"""write_atomically: a file is either its previous content or the complete new one."""

from __future__ import annotations

import os
import stat

import pytest

from qrnn._atomic import remove_temporaries, write_atomically


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


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_the_file_gets_the_permissions_of_the_umask(tmp_path, umask):
    """As open() would create it (tempfile.mkstemp would make every file 0600)."""
    previous = os.umask(umask)
    try:
        path = write_atomically(tmp_path / "new" / "metrics.json", lambda t: t.write_text("{}"))
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o777 & ~umask


def test_remove_temporaries_deletes_what_killed_writes_left(tmp_path):
    kept = [tmp_path / "checkpoint.pt", tmp_path / ".hidden.tmp", tmp_path / ".x.notes.tmp"]
    left = [tmp_path / ".checkpoint.pt.0a1b2c3d.tmp", tmp_path / "sub" / ".loss.png.ffffffff.tmp"]
    for path in kept + left:
        path.parent.mkdir(exist_ok=True)
        path.write_text("")
    assert sorted(remove_temporaries(tmp_path)) == sorted(left)
    assert sorted(p for p in tmp_path.rglob("*") if p.is_file()) == sorted(kept)
