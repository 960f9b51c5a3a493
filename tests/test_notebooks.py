"""The analysis notebooks (notebooks/*.ipynb): stored without outputs, and they run.

Each notebook runs in a fresh kernel on its REDUCED setting (the values of its ``parameters``
cell: one province, short solver limits, small sweeps), with ``notebooks/`` as the working
directory as in Jupyter. Nothing is injected but the environment: ASSETPLAN_NOTEBOOK_FULL is
removed, so the full national setting (``python notebooks/run.py --full``, minutes per
notebook) never runs here.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]-*.ipynb"))
FULL_ENV = "ASSETPLAN_NOTEBOOK_FULL"


def _ids(p: Path) -> str:
    return p.stem


def test_the_four_notebooks_are_there():
    assert [p.name for p in NOTEBOOKS] == ["01-national-overview.ipynb", "02-scenarios.ipynb",
                                           "03-sensitivity.ipynb", "04-province.ipynb"]
    assert (NOTEBOOK_DIR / "README.md").is_file()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_stored_without_outputs(path):
    text = path.read_text(encoding="utf-8")
    raw = json.loads(text)  # as stored in git
    for i, cell in enumerate(c for c in raw["cells"] if c["cell_type"] == "code"):
        assert cell["outputs"] == [], f"{path.name}: code cell {i} stores outputs"
        assert cell["execution_count"] is None, f"{path.name}: code cell {i} has an execution count"
    nb = nbformat.reads(text, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    # One parameters cell (papermill's convention), then the switch to the full setting.
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: expected one cell tagged 'parameters'"
    following = nb.cells[tagged[0] + 1]
    assert following.cell_type == "code" and FULL_ENV in following.source
    source = "\n".join(c.source for c in code)
    assert "import geodata" in source and "from planner" in source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_notebook_runs_on_the_reduced_setting(path, monkeypatch):
    monkeypatch.delenv(FULL_ENV, raising=False)
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    stderr = [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    assert stderr == [], f"{path.name} wrote to stderr (warnings?):\n" + "".join(stderr)
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "FULL=False" in text
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert images, f"{path.name} drew no figure"
