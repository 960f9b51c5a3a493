"""Execute the analysis notebooks and write the executed copies (with outputs) elsewhere.

    python notebooks/run.py                 # reduced setting (as the tests), into notebooks/out/
    python notebooks/run.py --full          # national setting: ASSETPLAN_NOTEBOOK_FULL=1
    python notebooks/run.py --full 02-scenarios.ipynb

The notebooks in git never hold outputs; the executed copies go to ``notebooks/out/``
(git-ignored). Each notebook runs with ``notebooks/`` as its working directory, as in Jupyter.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FULL_ENV = "ASSETPLAN_NOTEBOOK_FULL"


def notebooks(names: list[str] | None = None) -> list[Path]:
    found = sorted(HERE.glob("[0-9][0-9]-*.ipynb"))
    if not names:
        return found
    picked = [p for p in found if p.name in names or p.stem in names]
    missing = set(names) - {p.name for p in picked} - {p.stem for p in picked}
    if missing:
        raise SystemExit(f"no such notebook(s): {sorted(missing)}; have "
                         f"{[p.name for p in found]}")
    return picked


def execute(path: Path, full: bool, timeout_s: int) -> object:
    """Run one notebook in a fresh kernel; returns the executed notebook."""
    import nbformat
    from nbclient import NotebookClient

    os.environ["JUPYTER_PLATFORM_DIRS"] = "1"
    if full:
        os.environ[FULL_ENV] = "1"
    else:
        os.environ.pop(FULL_ENV, None)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout_s, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    return nb


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="notebooks to run (default: all)")
    ap.add_argument("--full", action="store_true",
                    help=f"national setting ({FULL_ENV}=1): takes minutes per notebook")
    ap.add_argument("--out", type=Path, default=HERE / "out", help="folder of executed copies")
    ap.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    args = ap.parse_args(argv)
    import nbformat

    args.out.mkdir(parents=True, exist_ok=True)
    for path in notebooks(args.names):
        t0 = time.perf_counter()
        print(f"{path.name}: running ({'full' if args.full else 'reduced'} setting) ...",
              flush=True)
        nb = execute(path, args.full, args.timeout)
        target = args.out / path.name
        nbformat.write(nb, target)
        print(f"{path.name}: {time.perf_counter() - t0:.0f} s -> {target}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
