# Sourced by the other scripts: makes .venv with casegate installed ($1: pip extras).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# A venv whose making was interrupted has a python but no pip: made again.
if [ ! -x .venv/bin/pip ]; then
    rm -rf .venv
    if ! python3 -m venv .venv 2>/dev/null; then
        rm -rf .venv
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
        fi
        python3 -m venv .venv
    fi
fi
.venv/bin/pip install --quiet --disable-pip-version-check -e ".${1:-}"
