#!/usr/bin/env bash
# Install the lowest versions pyproject.toml allows (every "name>=X" floor pinned to "name==X") into a
# temporary virtual environment, then run a fast subset of the tests there. It checks that the floors
# are true: a floor that is too low fails here instead of on a user's machine.
#
#   scripts/lowest_versions.sh                # core dependencies + pytest
#   EXTRAS=dev scripts/lowest_versions.sh     # the floors of an extra too
#   DRY_RUN=1 scripts/lowest_versions.sh      # only resolve (pip --dry-run): is the set installable?
#   TORCH_VERSION=2.4.0 scripts/lowest_versions.sh    # torch's own floor instead of the local build
#   TORCH_INDEX=https://download.pytorch.org/whl/cpu scripts/lowest_versions.sh   # CPU torch wheels
#   TESTS="tests/test_content_sparse.py" scripts/lowest_versions.sh
#
# torch is installed at TORCH_VERSION (default 2.13.0, the build the project is developed and tested
# with) rather than at its floor: a second torch is a large download and the floors under test are
# those of the pure-Python stack around it. The venv is made fresh under the cache
# (<RECFRAME_CACHE_DIR or ~/.cache/recframe>/lowest-versions) and removed at the end (KEEP=1 keeps it).
# Needs the datasets (RECFRAME_DATA_DIR) for the tests and a package index. Not part of .ci/run: it
# installs a second environment and takes minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
EXTRAS="${EXTRAS:-}"
TESTS="${TESTS:-tests/test_content_sparse.py tests/test_registry_and_plugins.py tests/test_configs.py tests/test_loggers.py tests/test_training_options.py}"
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"
cache="${RECFRAME_CACHE_DIR:-$HOME/.cache/recframe}"
mkdir -p "$cache"
work="$(mktemp -d "$cache/lowest-versions.XXXXXX")"
if [ -z "${KEEP:-}" ]; then trap 'rm -rf "$work"' EXIT; else echo "keeping $work"; fi

# Floors -> exact pins, read from pyproject.toml with the standard library (tomllib, Python 3.11+).
"$PYTHON" - "$EXTRAS" "$TORCH_VERSION" > "$work/constraints.txt" <<'EOF'
import re
import sys
import tomllib

project = tomllib.load(open("pyproject.toml", "rb"))["project"]
requirements = list(project["dependencies"])
for extra in filter(None, sys.argv[1].split(",")):
    requirements += project["optional-dependencies"][extra]
requirements.append("pytest>=8")
pins = {}
for req in requirements:
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*>=\s*([^,;\s]+)\s*", req)
    if match is None:
        sys.exit(f"error: pyproject.toml: cannot pin {req!r} (only 'name>=X' floors are understood)")
    pins[match.group(1).lower()] = match.group(3)
pins["torch"] = sys.argv[2]  # TORCH_VERSION (see the header)
for name, version in sorted(pins.items()):
    print(f"{name}=={version}")
EOF
echo "lowest allowed versions:" && sed 's/^/  /' "$work/constraints.txt"

"$PYTHON" -m venv "$work/venv"
pip=("$work/venv/bin/python" -m pip)
# (the venv's own pip: upgrading it first costs a download and changes nothing here)
index=()
if [ -n "${TORCH_INDEX:-}" ]; then index=(--extra-index-url "$TORCH_INDEX"); fi
target=".${EXTRAS:+[$EXTRAS]}"
if [ -n "${DRY_RUN:-}" ]; then
  "${pip[@]}" install --dry-run -q "${index[@]}" -c "$work/constraints.txt" -r "$work/constraints.txt"
  echo "ok: the lowest allowed versions resolve together"
  exit 0
fi
# The pins first (torch among them), then recframe itself against them.
"${pip[@]}" install -q "${index[@]}" -r "$work/constraints.txt"
"${pip[@]}" install -q "${index[@]}" -c "$work/constraints.txt" -e "$target"
"${pip[@]}" check
"$work/venv/bin/python" -m pip list --format=freeze | grep -i -E "^($(cut -d= -f1 "$work/constraints.txt" | paste -sd'|'))=="
# shellcheck disable=SC2086
"$work/venv/bin/python" -m pytest -q -p no:cacheprovider $TESTS
