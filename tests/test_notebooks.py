"""Every notebook in notebooks/ runs from top to bottom, cleanly, on the small budget.

The notebooks read ``QRNN_NOTEBOOK_BUDGET`` (``small`` here: fewer epochs, seeds and qubits;
``full`` by default, for a person). A notebook passes when no cell raised, nothing was
written to stderr (no warnings, no stray progress bars), and everything it wrote lies under
``notebook-outputs/``. Committed notebooks carry no outputs, and the README links each.
"""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_cleanly_on_the_small_budget(path, tmp_path, monkeypatch):
    monkeypatch.setenv("QRNN_NOTEBOOK_BUDGET", "small")
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()
    outputs = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    ]
    assert not [o for o in outputs if o.output_type == "error"]
    stderr = [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    assert not stderr, f"{path.name} wrote to stderr: {stderr}"
    written = [p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()]
    assert written, f"{path.name} saved none of its plots"
    assert all(p.parts[0] == "notebook-outputs" for p in written), written


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{path.name} has outputs: clear them (jupyter nbconvert --clear-output)"
            )


def test_the_readme_links_every_notebook():
    readme = (ROOT / "README.md").read_text()
    assert NOTEBOOKS
    for path in NOTEBOOKS:
        assert f"notebooks/{path.name}" in readme, f"README does not link {path.name}"


def test_a_bad_budget_is_refused_by_name(tmp_path, monkeypatch):
    monkeypatch.setenv("QRNN_NOTEBOOK_BUDGET", "tiny")
    notebook = nbformat.read(NOTEBOOKS[0], as_version=4)
    notebook.cells = [cell for cell in notebook.cells if cell.cell_type == "code"][:1]
    client = NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    with pytest.raises(Exception, match=r"QRNN_NOTEBOOK_BUDGET='tiny'.*'small' or 'full'"):
        client.execute()
