#!/usr/bin/env bash
# Build the HTML API reference from the docstrings with pdoc.
#
#   bash scripts/build_docs.sh            # -> docs/_build/api/index.html
#   bash scripts/build_docs.sh OUTDIR     # -> OUTDIR/index.html
#
# Needs pdoc (pip install ".[docs]") and the package importable: the script
# puts the repository first on PYTHONPATH, so an install is not required.
# docs/_build/ is git-ignored. The Markdown pages of docs/ are read as they are
# (on GitHub or any Markdown viewer); pdoc documents the modules only.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/docs/_build/api}"

if ! python -c "import pdoc" 2>/dev/null; then
    echo "build_docs.sh: pdoc is not installed; run: pip install \".[docs]\"" >&2
    exit 1
fi

# The package's __all__ lists functions, not submodules, so name the public
# modules explicitly: every multinom/*.py whose name does not start with "_".
modules=(multinom)
for f in "$root"/multinom/*.py; do
    name="$(basename "$f" .py)"
    case "$name" in _*) continue ;; esac
    modules+=("multinom.$name")
done

rm -rf "$out"
mkdir -p "$out"
# Agg: importing multinom.plotting must not need a display.
MPLBACKEND=Agg PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" \
    python -m pdoc "${modules[@]}" \
        --docformat numpy \
        --math \
        --footer-text "multinom $(PYTHONPATH="$root" python -c 'import multinom; print(multinom.__version__)')" \
        -o "$out"

n=$(find "$out" -name '*.html' | wc -l)
echo "API reference: $n HTML pages in $out (open $out/index.html)"
