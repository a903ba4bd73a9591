# Sourced by the other scripts: finds Python 3.12 and uv (installing uv through pip when it
# is missing) and exports what uv needs to never download a Python.
set -euo pipefail
ATOM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export UV_PYTHON_DOWNLOADS=never
export UV_NO_PROGRESS="${UV_NO_PROGRESS:-1}"

if ! ATOM_PYTHON="$(cd "$ATOM_ROOT" && python3.12 -c 'import sys; print(sys.executable)' 2>/dev/null)"; then
    echo "atom: Python 3.12 is required (pyenv install 3.12, or put python3.12 on PATH)" >&2
    exit 1
fi
export UV_PYTHON="$ATOM_PYTHON"

if command -v uv >/dev/null 2>&1; then
    UV="$(command -v uv)"
elif [ -x "$ATOM_ROOT/.tools/bin/uv" ]; then
    UV="$ATOM_ROOT/.tools/bin/uv"
else
    echo "atom: installing uv with pip into .tools/ …" >&2
    python3 -m venv "$ATOM_ROOT/.tools"
    "$ATOM_ROOT/.tools/bin/pip" install --quiet --disable-pip-version-check uv
    UV="$ATOM_ROOT/.tools/bin/uv"
fi
export UV
