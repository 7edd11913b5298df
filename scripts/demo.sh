#!/usr/bin/env bash
# Install casegate and run it on the embedded SQLite database with the demo company ready.
source "$(dirname "$0")/_venv.sh" ""
export CASEGATE_HOME="${CASEGATE_HOME:-$PWD/var}"
SMTP="${CASEGATE_SMTP:-127.0.0.1:2525}"
HTTP="${CASEGATE_HTTP:-127.0.0.1:8025}"
.venv/bin/casegate init
.venv/bin/casegate demo --smtp "$SMTP" --http "$HTTP"
exec .venv/bin/casegate serve --smtp "$SMTP" --http "$HTTP"
