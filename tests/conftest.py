from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from casegate.config import get_config
from tests.spam_filters import Rspamd, running_rspamd
from tests.support import LocalDNS, postgres_unavailable

# Property tests check what holds, not how fast: on a shared machine under load, a slow
# example or slow input generation is no failure (bench/ measures speed).
hypothesis_settings.register_profile("casegate", deadline=None,
                                     suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("casegate")

_PG_REASON: list[str | None] = []


def pg_skip_reason() -> str | None:
    if not _PG_REASON:
        _PG_REASON.append(postgres_unavailable())
    return _PG_REASON[0]


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql":
        reason = pg_skip_reason()
        if reason:
            print(f"SKIP PostgreSQL: {reason}")
            pytest.skip(reason)
    return request.param


@pytest.fixture(scope="session")
def rspamd() -> Iterator[Rspamd]:
    """Debian's rspamd with the repository's configuration (tests/rspamd), for the whole
    session; its name server is a LocalDNS that knows no names. A test that needs it fails
    with the reason when it cannot start."""
    with LocalDNS({}) as dns, running_rspamd(dns.address) as server:
        yield server


@pytest.fixture(autouse=True)
def _english_between_tests() -> Iterator[None]:
    """A console request activates the reader's language for its thread; the next test
    starts in English again, as a new request or command would."""
    yield
    from django.utils import translation

    translation.deactivate()


# SQLite calls the progress handler once every this many steps of its virtual machine.
STEPS_PER_CALL = 100


@pytest.fixture
def database_work() -> Iterator[Callable[[], int]]:
    """The database's work so far, to compare two tests of one operation: on SQLite the steps
    of its virtual machine, in hundreds; on PostgreSQL the rows its scans read in this
    transaction (see :func:`tests.support.gather_statistics`)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        yield _rows_read
        return
    connection.ensure_connection()
    calls = [0]

    def count() -> int:
        calls[0] += 1
        return 0

    connection.connection.set_progress_handler(count, STEPS_PER_CALL)
    yield lambda: calls[0]
    connection.connection.set_progress_handler(None, STEPS_PER_CALL)


def _rows_read() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(sum(seq_tup_read + coalesce(idx_tup_fetch, 0)), 0)"
                       " FROM pg_stat_xact_user_tables")
        return int(cursor.fetchone()[0])


@pytest.fixture
def setting(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, str | None], None]]:
    """Set (or, with None, remove) a ``CASEGATE_*`` variable for one test; the configuration
    is read again, as a new process would."""

    def change(name: str, value: str | None) -> None:
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
        get_config.cache_clear()

    yield change
    monkeypatch.undo()
    get_config.cache_clear()
