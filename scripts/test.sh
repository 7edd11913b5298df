#!/usr/bin/env bash
# Install casegate with its test tools and run every check: lint, then the test suite.
# End-to-end tests run on SQLite and on PostgreSQL (127.0.0.1:5432, user postgres,
# database test) in one run; the ORM-level tests run a second time on PostgreSQL.
source "$(dirname "$0")/_venv.sh" "[test]"
# The browser tests drive Debian's chromium (playwright's own browser download is not used).
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
# bench/relay_vs_postfix.py's smoke run compares with a private Postfix instance (Debian's).
if [ ! -x /usr/sbin/postfix ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null
fi
# The systemd units casegate service install writes are checked with systemd-analyze verify.
if [ ! -x /usr/bin/systemd-analyze ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null
fi
# The mailbox tests fetch from Debian's Dovecot (IMAP and POP3), run from tests/dovecot.
for package in dovecot-imapd:/usr/lib/dovecot/imap dovecot-pop3d:/usr/lib/dovecot/pop3; do
    if [ ! -x "${package#*:}" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${package%%:*}" >/dev/null
    fi
done
# The spam filter tests run Debian's rspamd (their own configuration, tests/rspamd) and
# SpamAssassin's spamd (its test is skipped, with the reason, where it cannot be installed).
for package in rspamd:/usr/bin/rspamd spamd:/usr/sbin/spamd; do
    if [ ! -x "${package#*:}" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${package%%:*}" >/dev/null
    fi
done
# Postfix's pipe service runs `casegate deliver` as an unprivileged user, who must reach the
# venv's Python: one installed under /root needs /root traversable (not listable).
if [ "$(id -u)" = 0 ] && [[ "$(readlink -f .venv/bin/python)" == /root/* ]]; then
    chmod o+x /root
fi
.venv/bin/ruff check src tests bench
.venv/bin/lint-imports
CASEGATE_HOME="$(mktemp -d)" .venv/bin/mypy
.venv/bin/pytest "$@"
PG_URL="${CASEGATE_TEST_PG:-postgresql://postgres@127.0.0.1:5432/test}"
if .venv/bin/python -c "import psycopg,sys; psycopg.connect(sys.argv[1], connect_timeout=3).close()" "$PG_URL" 2>/dev/null; then
    CASEGATE_DATABASE_URL="$PG_URL" .venv/bin/pytest -m django_db "$@"
else
    echo "SKIP the ORM tests on PostgreSQL: no server answers at $PG_URL"
fi
