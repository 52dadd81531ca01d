"""Run the code of docs/lineage-tutorial.md: writes docs/img/tutorial_*.png and checks the printed output.

The tutorial's ```python blocks are executed in order, in one namespace, with
the working directory set to docs/img/ (so the ``fig.savefig("tutorial_*.png")``
calls of the tutorial write the figures embedded in the page) and matplotlib's
Agg backend. With ``--page`` any other page is run the same way, in a scratch
folder. Each block's printed output is compared with the ```text block
that follows it in the page; differences are reported (exit status 1 with
``--check``).

Usage, from anywhere::

    python scripts/make_tutorial_figures.py            # figures + report
    python scripts/make_tutorial_figures.py --check    # also fail on output differences
    python scripts/make_tutorial_figures.py --show     # print every block's output
    python scripts/make_tutorial_figures.py --update   # paste the new outputs into the page
    python scripts/make_tutorial_figures.py --page docs/getting-started.md --check   # any other page

Needs the package importable (``pip install -e .`` or PYTHONPATH=.) and matplotlib.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import io
import os
import re
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "lineage-tutorial.md"
IMG = ROOT / "docs" / "img"

_BLOCK = re.compile(r"```python\n(.*?)```(?:\s*\n```text\n(.*?)```)?", re.S)


def blocks(text: str):
    """(code, expected output or None) for every ```python block of the page."""
    return [(m.group(1), m.group(2)) for m in _BLOCK.finditer(text)]


def _normalise(s: str) -> list[str]:
    return [line.rstrip() for line in s.strip("\n").splitlines()]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when an output differs from the page")
    parser.add_argument("--show", action="store_true", help="print every block's output")
    parser.add_argument("--page", type=Path, default=PAGE,
                        help="Markdown page to run (default docs/lineage-tutorial.md)")
    parser.add_argument("--update", action="store_true",
                        help="replace the ```text block after each python block by its new output")
    args = parser.parse_args(argv)
    page = args.page.resolve()

    import matplotlib
    matplotlib.use("Agg")
    sys.path.insert(0, str(ROOT))
    IMG.mkdir(parents=True, exist_ok=True)
    cwd = os.getcwd()
    scratch = None
    if page == PAGE.resolve():
        os.chdir(IMG)  # the tutorial's figures land in docs/img/
    else:  # other pages: whatever they write goes to a scratch folder
        import tempfile
        scratch = tempfile.TemporaryDirectory(prefix="multinom-docs-")
        os.chdir(scratch.name)
    namespace = {"__name__": "__tutorial__"}
    differ = 0
    outputs = []
    text = page.read_text()
    try:
        for i, (code, expected) in enumerate(blocks(text), start=1):
            buf = io.StringIO()
            start = time.perf_counter()
            with contextlib.redirect_stdout(buf), warnings.catch_warnings():
                # warnings appear in the output as the page shows them: "Category: message"
                warnings.simplefilter("always")
                for category in (DeprecationWarning, PendingDeprecationWarning, SyntaxWarning):
                    warnings.filterwarnings("ignore", category=category)
                warnings.showwarning = (lambda message, category, *a, **k:
                                        print(f"{category.__name__}: {message}"))
                exec(compile(code, f"{page.name}[block {i}]", "exec"), namespace)
            seconds = time.perf_counter() - start
            out = buf.getvalue()
            outputs.append(out)
            status = "ok"
            if expected is not None and _normalise(out) != _normalise(expected):
                status = "OUTPUT DIFFERS"
                differ += 1
            print(f"block {i:2d}: {seconds:5.1f} s  {status}")
            if args.show or status != "ok":
                if status != "ok":
                    diff = difflib.unified_diff(_normalise(expected), _normalise(out), "page", "run",
                                                lineterm="")
                    print("\n".join(diff))
                else:
                    print(out)
    finally:
        os.chdir(cwd)
        if scratch is not None:
            scratch.cleanup()
    if args.update:
        it = iter(outputs)

        def fill(m):
            out = next(it)
            if m.group(2) is None:
                return m.group(0)
            return f"```python\n{m.group(1)}```\n\n```text\n{out.rstrip()}\n```"
        page.write_text(_BLOCK.sub(fill, text))
        print(f"updated the outputs in {page}")
        differ = 0
    figures = sorted(IMG.glob("tutorial_*.png"))
    print("figures: " + ", ".join(f"{p.relative_to(ROOT)} ({p.stat().st_size // 1024} kB)" for p in figures))
    if differ:
        print(f"{differ} block(s) printed something else than the page shows")
    return 1 if (args.check and differ) else 0


if __name__ == "__main__":
    sys.exit(main())
