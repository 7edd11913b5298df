"""Console page times with 100,000 cases and 1,000,000 trace events in PostgreSQL.

    .venv/bin/python bench/console_pages.py [--cases 100000] [--events 1000000]
        [--repeat 30] [--budget 150] [--keep]

Target (the issue): every console page answers in under 150 ms p95 with 100,000 cases and
1,000,000 trace events in PostgreSQL.

What it does:

1. Makes a scratch database ``casegate_console_bench_<hex>`` on the server at
   ``postgresql://postgres@127.0.0.1:5432/`` (or ``$CASEGATE_BENCH_PG``, the URL of a
   maintenance database), points ``CASEGATE_DATABASE_URL`` at it and ``CASEGATE_HOME`` at a
   temporary directory, sets Django up in this process and runs ``migrate``. The database
   and the directory are removed at the end, also on failure or SIGTERM (``--keep`` keeps
   the database and prints its URL).
2. Loads the data with ``INSERT ... SELECT generate_series(...)`` (deterministic, no
   randomness: values are spread with ``hashint8extended``), after ``setup_demo()``:

   - cases: ``--cases`` (default 100,000) on the demo's Support intake, 2 or 3 desk messages
     each (customer, agent reply, sometimes the customer again), created over the last 30
     days in id order; the newest 3% are new and unassigned, the 15% before them open or
     pending, the rest mostly solved or closed, assigned to one of 8 agents; one status
     change (a case event and an audit log entry) for each case that is not new, and an
     audit log entry for each case created (as auditlog records them);
   - contacts: 0.4 per case, companies: 1 per 100 cases; company 1 has 10% of the
     contacts (the "largest company" page), contact 2 wrote 1% of all cases (the "busiest
     contact" page); every fifth contact uses a free-mail domain (no company);
   - leads: 1 per 10 cases, one desk message each, on the demo's Sales intake;
   - trace events = gateway messages + deliveries + delivery attempts + quarantine
     entries. Messages: ``round(events / 3.96)``, spread over the last 30 days, 60% to
     help@ (desk delivery), 30% agent replies to customers (remote delivery), 10% to
     sales@ (desk delivery); every 50th is spam, quarantined for help@ (60% held) and
     has no delivery. Each other message has one delivery with 1 to 3 attempts (earlier
     attempts deferred), none while still pending; remote deliveries of the last 5 days
     are 90% delivered, 6% deferred, 2% bounced, 2% pending, older ones 96% delivered,
     3% bounced, 1% expired. ``raw`` is a ~400 byte RFC 5322 message, its subject and
     From kept beside it; mail from outside has an Authentication-Results value (every
     100th message fails DMARC) and spam an rspamd report (score, symbols). The desk message
     numbered i carries the queue id of gateway message i (so a trace shows "filed at the
     desk");
   - then ``VACUUM (ANALYZE)``, as autovacuum would have done on a live database.

3. Signs in a super administrator (``bench``) with ``django.test.Client`` (in process,
   ``force_login``) and requests every console page: one warm-up request each (which must
   answer 200), then ``--repeat`` rounds over all pages (default 30), timing each
   request's wall time (URL resolution, middleware, view, SQL, template) and the time
   spent in SQL (``connection.execute_wrapper``). p50/p95 are nearest-rank percentiles.
4. Prints a table: page, p50, p95, max, queries and SQL ms per request, and whether p95 is
   under ``--budget`` ms (default 150); then the row counts and load times. For every page
   over budget it requests the page once more under ``CaptureQueriesContext``, prints its
   slowest statements, ``EXPLAIN (ANALYZE, BUFFERS)`` of the slowest one, and a cProfile
   of one request (where the time outside SQL goes: ORM, templates, URL reversing).

Exit status 1 when a page does not answer 200, else 0 (slow pages are reported, not
failed). The full size takes a few minutes on 2 cores, most of it loading; try
``--cases 2000 --events 20000 --repeat 5`` first.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import math
import os
import pstats
import re
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from casegate.desk.vocabulary import IntakeKind

PG_DSN = os.environ.get("CASEGATE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
HELP = "help@solarmora.com"
SALES = "sales@solarmora.com"
AGENTS = 8
DAYS = 30
# messages + deliveries (98% of messages) + attempts (~2 per delivery) + quarantine (2%)
EVENTS_PER_MESSAGE = 1 + 0.98 + 0.98 * 2 + 0.02

SUBJECTS = [
    "My panel stopped charging", "Inverter shows error E42", "Question about my invoice",
    "Battery drains overnight", "Installation appointment", "Some panels offline after the storm",
    "App does not show production", "Warranty for the inverter", "Change of address",
    "Monitoring portal login fails", "Noise from the inverter", "Refund for the second visit",
    "Production lower than expected", "Cable damaged by rodents", "Meter reading wrong",
    "Request for a quote extension", "Error E17 after the update", "Snow on the panels",
    "Smart meter pairing", "Cancel my maintenance plan",
]
CUSTOMER_TEXT = ("Hello,\n\nmy installation stopped producing yesterday afternoon and the "
                 "inverter display shows an error I have not seen before. I already switched "
                 "it off and on again as the manual says. Could you have a look or send "
                 "someone?\n\nThank you,\n")
AGENT_TEXT = ("Hello,\n\nthank you for writing to us. We checked the monitoring data of your "
              "installation and scheduled a visit of a technician; you will receive the "
              "appointment by mail.\n\nBest regards,\nSolarmora support\n")


# --- scratch database ----------------------------------------------------------------------

@contextmanager
def scratch_database(keep: bool) -> Iterator[str]:
    """A new empty database (its URL), dropped at the end unless ``keep``."""
    import psycopg

    name = f"casegate_console_bench_{secrets.token_hex(6)}"
    with psycopg.connect(PG_DSN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{PG_DSN.rsplit('/', 1)[0]}/{name}"
    try:
        yield url
    finally:
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()
        if keep:
            print(f"kept the database: {url}", flush=True)
        else:
            with psycopg.connect(PG_DSN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def setup_django(url: str, home: Path) -> None:
    for key in [k for k in os.environ if k.startswith("CASEGATE_") and k != "CASEGATE_BENCH_PG"]:
        del os.environ[key]
    os.environ.update(CASEGATE_DATABASE_URL=url, CASEGATE_HOME=str(home),
                      CASEGATE_HOSTNAME="bench.test",
                      DJANGO_SETTINGS_MODULE="casegate.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


# --- loading -------------------------------------------------------------------------------

@dataclass
class Sizes:
    cases: int
    events: int
    contacts: int = 0
    companies: int = 0
    leads: int = 0
    messages: int = 0

    def __post_init__(self) -> None:
        self.contacts = max(3, self.cases * 2 // 5)
        self.companies = max(3, self.cases // 100)
        self.leads = max(1, self.cases // 10)
        self.messages = max(100, round(self.events / EVENTS_PER_MESSAGE))


@dataclass
class Loaded:
    steps: list[tuple[str, float]] = field(default_factory=list)
    ids: dict[str, Any] = field(default_factory=dict)


def sql(statement: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement)


def fetch(statement: str) -> list[tuple[Any, ...]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement)
        return cursor.fetchall()


def helpers(size: Sizes, start: datetime) -> None:
    """Session-local SQL functions: a hash pick, a time along the 30 days, a queue id."""
    span = DAYS * 86400
    sql("CREATE FUNCTION pg_temp.pick(n bigint, salt int, k int) RETURNS int"
        " LANGUAGE sql IMMUTABLE AS"
        " $$ SELECT mod(hashint8extended(n, salt) & 2147483647, k)::int $$")
    sql("CREATE FUNCTION pg_temp.at(i bigint, total bigint) RETURNS timestamptz"
        " LANGUAGE sql IMMUTABLE AS"
        f" $$ SELECT '{start.isoformat()}'::timestamptz"
        f" + ((i - 0.5) / total)::float8 * interval '{span} seconds' $$")
    sql("CREATE FUNCTION pg_temp.qid(m bigint) RETURNS text LANGUAGE sql IMMUTABLE AS"
        " $$ SELECT upper(lpad(to_hex((extract(epoch FROM"
        f" pg_temp.at(m, {size.messages})) * 1000)::bigint), 11, '0')"
        " || lpad(to_hex(m), 10, '0')) $$")


def array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def load(size: Sizes, loaded: Loaded) -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.contenttypes.models import ContentType
    from django.db import transaction
    from django.utils import timezone

    from casegate.access import SUPER, add_user
    from casegate.demo import setup_demo
    from casegate.desk.models import Case, Intake
    from casegate.routing.models import Rule

    def step(name: str, *statements: str) -> None:
        started = time.perf_counter()
        with transaction.atomic():
            sql("SET LOCAL synchronous_commit TO off")
            for statement in statements:
                sql(statement)
        loaded.steps.append((name, time.perf_counter() - started))
        print(f"  {name}: {loaded.steps[-1][1]:.1f} s", flush=True)

    started = time.perf_counter()
    setup_demo()
    bench = add_user("bench", SUPER, "bench password 123")
    users = get_user_model().objects
    agents = users.bulk_create([
        users.model(username=f"agent{i}", email=f"agent{i}@solarmora.com", password="!",
                    first_name=f"Agent {i}") for i in range(1, AGENTS + 1)])
    agent_ids = [a.pk for a in agents] or list(
        users.filter(username__startswith="agent").values_list("pk", flat=True))
    case_intake = Intake.objects.get(kind=IntakeKind.CASE, name="Support").pk
    lead_intake = Intake.objects.get(kind=IntakeKind.LEAD, name="Sales").pk
    help_rule = Rule.objects.get(match_value=HELP).pk
    sales_rule = Rule.objects.get(match_value=SALES).pk
    case_type = ContentType.objects.get_for_model(Case).pk
    loaded.ids.update(bench=bench, help_rule=help_rule)
    loaded.steps.append(("demo company, users", time.perf_counter() - started))

    now = timezone.now().astimezone(UTC).replace(microsecond=0)
    start = now - timedelta(days=DAYS)
    helpers(size, start)
    n_cases, n_contacts, n_companies, n_msgs = (size.cases, size.contacts, size.companies,
                                                size.messages)
    agent_array = "ARRAY[" + ", ".join(map(str, agent_ids)) + "]::int[]"
    intake_address = "(SELECT address FROM desk_intake WHERE id = {})"
    crlf = "E'\\r\\n'"

    step("companies, contacts",
         f"""INSERT INTO desk_company (id, domain, name, created_at)
             SELECT c, 'client' || c || '.example', 'Client ' || c || ' Ltd',
                    '{start.isoformat()}'::timestamptz
             FROM generate_series(1, {n_companies}) c""",
         f"""INSERT INTO desk_contact (id, address, name, language, company_id, created_at)
             SELECT k, 'customer' || k || '@' || CASE WHEN co IS NULL THEN 'freemail.example'
                                               ELSE 'client' || co || '.example' END,
                    'Customer ' || k, '', co, pg_temp.at(k, {n_contacts})
             FROM generate_series(1, {n_contacts}) k,
                  LATERAL (SELECT CASE WHEN mod(k, 5) = 0 THEN NULL WHEN mod(k, 10) = 1
                                  THEN 1 ELSE 1 + mod(k, {n_companies}) END AS co) x""")

    step("cases",
         f"""INSERT INTO desk_case (id, subject, requester, requester_name, original_recipient,
                 message_id, created_at, received_at, status, intake_id, assignee_id,
                 first_response_due_at, follows_id, priority, tags, team, updated_at,
                 contact_id, first_responded_at, sla_fired)
             SELECT s.n, ({array(SUBJECTS)})[1 + pg_temp.pick(s.n, 10, {len(SUBJECTS)})]
                        || ' (ref ' || s.n || ')',
                    ct.address, ct.name, '{HELP}',
                    '<case.' || s.n || '@' || split_part(ct.address, '@', 2) || '>',
                    s.at, s.at, s.status, {case_intake},
                    CASE WHEN s.status = 'new' OR pg_temp.pick(s.n, 16, 25) = 0 THEN NULL
                         ELSE ({agent_array})[1 + pg_temp.pick(s.n, 17, {AGENTS})] END,
                    NULL, NULL,
                    (ARRAY['low', 'normal', 'normal', 'normal', 'normal', 'normal', 'normal',
                           'high', 'high', 'urgent'])[1 + pg_temp.pick(s.n, 18, 10)],
                    '[]'::jsonb, '', s.at + interval '2 hours', ct.id,
                    CASE WHEN s.status = 'new' THEN NULL ELSE s.at + interval '1 hour' END,
                    '[]'::jsonb
             FROM (SELECT n, pg_temp.at(n, {n_cases}) AS at,
                          CASE WHEN pg_temp.pick(n, 12, 100) = 0 THEN 2
                               ELSE 1 + pg_temp.pick(n, 11, {n_contacts}) END AS contact,
                          CASE WHEN n > {n_cases} * 0.97 THEN 'new'
                               WHEN n > {n_cases} * 0.85
                               THEN (ARRAY['open', 'open', 'pending'])[1 + pg_temp.pick(n, 13, 3)]
                               WHEN pg_temp.pick(n, 14, 50) = 0 THEN 'open'
                               WHEN pg_temp.pick(n, 15, 10) < 3 THEN 'solved'
                               ELSE 'closed' END AS status
                   FROM generate_series(1, {n_cases}) n) s
             JOIN desk_contact ct ON ct.id = s.contact""")

    step("leads",
         f"""INSERT INTO desk_lead (id, subject, requester, requester_name, original_recipient,
                 message_id, created_at, received_at, status, intake_id, converted_at,
                 converted_by, contact_id)
             SELECT s.l, 'Quote for a ' || (3 + pg_temp.pick(s.l, 20, 40)) || ' kWp installation',
                    ct.address, ct.name, '{SALES}',
                    '<lead.' || s.l || '@' || split_part(ct.address, '@', 2) || '>',
                    s.at, s.at, s.status, {lead_intake},
                    CASE WHEN s.status = 'converted' THEN s.at + interval '3 days' END,
                    CASE WHEN s.status = 'converted' THEN 'agent1' ELSE '' END, ct.id
             FROM (SELECT l, pg_temp.at(l, {size.leads}) AS at,
                          1 + pg_temp.pick(l, 21, {n_contacts}) AS contact,
                          (ARRAY['new', 'working', 'qualified', 'converted', 'disqualified'])
                              [1 + pg_temp.pick(l, 22, 5)] AS status
                   FROM generate_series(1, {size.leads}) l) s
             JOIN desk_contact ct ON ct.id = s.contact""")

    desk_columns = """(id, case_id, lead_id, direction, queue_id, message_id, in_reply_to,
                       "references", recipients, cc, author_id, delivery_status, raw_id,
                       automated, subject, sender, sender_name, text, new_text, html,
                       parse_problems, created_at)"""
    step("desk messages",
         f"""INSERT INTO desk_deskmessage {desk_columns}
             SELECT t.i, t.case_id, NULL, t.direction,
                    CASE WHEN t.i <= {n_msgs} THEN pg_temp.qid(t.i) ELSE '' END,
                    t.message_id, t.in_reply_to, t.in_reply_to, t.recipients, '', t.author_id,
                    t.delivery_status, NULL, '', t.subject, t.sender, t.sender_name, t.text,
                    t.text, '', '', t.created_at
             FROM (SELECT row_number() OVER (ORDER BY c.id, j) AS i, c.id AS case_id,
                          CASE WHEN j = 2 THEN 'outbound' ELSE 'inbound' END AS direction,
                          CASE j WHEN 1 THEN c.message_id
                                 WHEN 2 THEN '<reply.' || c.id || '@solarmora.com>'
                                 ELSE '<case.' || c.id || '.3@' || split_part(c.requester, '@', 2)
                                      || '>' END AS message_id,
                          CASE j WHEN 1 THEN '' WHEN 2 THEN c.message_id
                                 ELSE '<reply.' || c.id || '@solarmora.com>' END AS in_reply_to,
                          CASE WHEN j = 2 THEN c.requester ELSE '' END AS recipients,
                          CASE WHEN j = 2 THEN coalesce(c.assignee_id, {agent_ids[0]})
                               END AS author_id,
                          CASE WHEN j = 2 THEN 'queued' ELSE '' END AS delivery_status,
                          CASE WHEN j = 1 THEN c.subject ELSE 'Re: ' || c.subject END AS subject,
                          CASE WHEN j = 2 THEN '{HELP}' ELSE c.requester END AS sender,
                          CASE WHEN j = 2 THEN '' ELSE c.requester_name END AS sender_name,
                          CASE WHEN j = 2 THEN '{AGENT_TEXT}' ELSE '{CUSTOMER_TEXT}'
                               || 'case ' || c.id END AS text,
                          c.created_at + (j - 1) * interval '90 minutes' AS created_at
                   FROM desk_case c
                   CROSS JOIN LATERAL generate_series(1, 2 + pg_temp.pick(c.id, 31, 2)) j) t""",
         f"""INSERT INTO desk_deskmessage {desk_columns}
             SELECT t.i, NULL, t.id, 'inbound',
                    CASE WHEN t.i <= {n_msgs} THEN pg_temp.qid(t.i) ELSE '' END,
                    t.message_id, '', '', '', '', NULL, '', NULL, '', t.subject, t.requester,
                    t.requester_name, '{CUSTOMER_TEXT}', '{CUSTOMER_TEXT}', '', '', t.created_at
             FROM (SELECT (SELECT coalesce(max(id), 0) FROM desk_deskmessage)
                          + row_number() OVER (ORDER BY l.id) AS i, l.*
                   FROM desk_lead l) t""")

    step("case events, audit log",
         """INSERT INTO desk_caseevent (case_id, field, before, after, actor, at)
            SELECT c.id, 'status', 'new', c.status, coalesce(u.username, 'agent1'),
                   c.created_at + interval '1 hour'
            FROM desk_case c LEFT JOIN auth_user u ON u.id = c.assignee_id
            WHERE c.status <> 'new' ORDER BY c.id""",
         f"""INSERT INTO auditlog_logentry (object_pk, object_id, object_repr, action, changes,
                 timestamp, actor_id, content_type_id, remote_addr, additional_data,
                 serialized_data, cid, changes_text, remote_port, actor_email)
             SELECT e.id::text, e.id, 'CG-' || e.id || ': ' || e.subject, e.action, e.changes,
                    e.at, e.actor, {case_type}, e.addr::inet, NULL, NULL, NULL, '', NULL, NULL
             FROM (SELECT c.id, c.subject, 0 AS action, c.created_at AS at, NULL::int AS actor,
                          NULL AS addr,
                          jsonb_build_object('status', jsonb_build_array('None', 'new')) AS changes
                   FROM desk_case c
                   UNION ALL
                   SELECT c.id, c.subject, 1, c.created_at + interval '1 hour', c.assignee_id,
                          '192.0.2.10',
                          jsonb_build_object('status', jsonb_build_array('new', c.status))
                   FROM desk_case c WHERE c.status <> 'new') e
             ORDER BY e.at""")

    step("gateway messages, quarantine",
         f"""CREATE TEMP TABLE bench_msg AS
             SELECT m, pg_temp.qid(m) AS qid, pg_temp.at(m, {n_msgs}) AS at,
                    CASE WHEN mod(m, 50) = 0 THEN 'spam' WHEN t < 6 THEN 'help'
                         WHEN t < 9 THEN 'reply' ELSE 'sales' END AS kind,
                    ct.address AS customer, pg_temp.pick(m, 43, 100) AS u
             FROM generate_series(1, {n_msgs}) m
             CROSS JOIN LATERAL (SELECT pg_temp.pick(m, 41, 10) AS t) x
             JOIN desk_contact ct ON ct.id = 1 + pg_temp.pick(m, 42, {n_contacts})""",
         f"""INSERT INTO gateway_message (queue_id, mail_from, rcpt_tos, received_at, peer, helo,
                 size, message_id, subject, from_header, spam, spam_reason, auth_results,
                 spam_report, raw, dsn_envid, dsn_ret)
             SELECT s.qid, s.mail_from, jsonb_build_array(s.rcpt), s.at, s.peer, s.helo,
                    octet_length(s.raw), s.message_id, s.subject, '<' || s.mail_from || '>',
                    s.kind = 'spam',
                    CASE WHEN s.kind = 'spam' THEN 'score 9.3 >= 5.0 (bulk mail)' ELSE '' END,
                    CASE WHEN s.kind = 'reply' THEN ''
                         ELSE 'bench.test; spf=pass smtp.mailfrom=' || s.mail_from
                              || '; dkim=none; dmarc='
                              || CASE WHEN mod(s.m, 100) = 0 THEN 'fail' ELSE 'none' END
                              || ' header.from=' || split_part(s.mail_from, '@', 2)
                              || '; arc=none' END,
                    CASE WHEN s.kind = 'spam' THEN jsonb_build_object(
                        'classifier', 'rspamd', 'action', 'spam', 'filter_action', 'add header',
                        'scanned', true, 'score', 9.3, 'required_score', 15.0,
                        'symbols', jsonb_build_object('BAYES_SPAM', 5.1, 'MISSING_DATE', 1.0),
                        'reason', 'score 9.3 >= 5.0 (bulk mail)')
                         ELSE '{{}}'::jsonb END,
                    s.raw, '', ''
             FROM (SELECT b.*, r.*,
                          convert_to('Received: from ' || r.helo || ' ([' || r.peer || '])'
                              || {crlf} || 'From: <' || r.mail_from || '>' || {crlf}
                              || 'To: <' || r.rcpt || '>' || {crlf}
                              || 'Subject: ' || r.subject || {crlf}
                              || 'Date: ' || to_char(b.at, 'Dy, DD Mon YYYY HH24:MI:SS +0000')
                              || {crlf} || 'Message-ID: ' || r.message_id || {crlf}
                              || 'MIME-Version: 1.0' || {crlf}
                              || 'Content-Type: text/plain; charset=utf-8' || {crlf} || {crlf}
                              || replace('{CUSTOMER_TEXT}', E'\\n', {crlf}), 'UTF8') AS raw
                   FROM bench_msg b
                   CROSS JOIN LATERAL (
                       SELECT CASE b.kind WHEN 'reply' THEN '{HELP}'
                                  WHEN 'spam' THEN 'offers@bulk-mailer.example'
                                  ELSE b.customer END AS mail_from,
                              CASE b.kind WHEN 'reply' THEN b.customer WHEN 'sales' THEN '{SALES}'
                                  ELSE '{HELP}' END AS rcpt,
                              '<m' || b.m || '.' || substr(md5(b.m::text), 1, 12) || '@'
                                  || CASE WHEN b.kind = 'reply' THEN 'solarmora.com'
                                          ELSE split_part(b.customer, '@', 2) END
                                  || '>' AS message_id,
                              CASE b.kind WHEN 'reply' THEN 'Re: ' ELSE '' END
                                  || ({array(SUBJECTS)})[1 + pg_temp.pick(b.m, 10, {len(SUBJECTS)})]
                                  AS subject,
                              CASE WHEN b.kind = 'reply' THEN '127.0.0.1'
                                   ELSE '198.51.100.' || (1 + mod(b.m, 250)) END AS peer,
                              CASE WHEN b.kind = 'reply' THEN 'bench.test'
                                   ELSE 'mail.' || split_part(b.customer, '@', 2) END AS helo
                   ) r) s
             ORDER BY s.at""",
         f"""INSERT INTO gateway_quarantine (id, message_id, recipient, reason, notify, orcpt,
                 state, created_at, decided_at)
             SELECT b.m / 50, b.qid, '{HELP}', 'spam: score 9.3 >= 5.0 (bulk mail)', '', '',
                    CASE WHEN mod(b.u, 5) < 3 THEN 'held' WHEN mod(b.u, 5) = 3 THEN 'released'
                         ELSE 'deleted' END,
                    b.at + interval '1 second',
                    CASE WHEN mod(b.u, 5) >= 3 THEN b.at + interval '4 hours' END
             FROM bench_msg b WHERE b.kind = 'spam' ORDER BY b.m""")

    recent = (now - timedelta(days=5)).isoformat()
    step("deliveries, attempts",
         f"""INSERT INTO delivery_delivery (id, message_id, original_recipient, recipient, kind,
                 intake_id, junk, relay, rules, edits, state, attempts, next_attempt_at,
                 lease_until, last_reply, notify, orcpt, dsn_state, created_at, updated_at)
             SELECT s.m, s.qid, s.rcpt, s.recipient, s.dkind, s.intake_id, false, '', s.rules,
                    '{{}}'::jsonb,
                    s.state, s.attempts,
                    s.done + CASE WHEN s.state = 'deferred' THEN interval '20 minutes'
                                  ELSE interval '0' END,
                    NULL,
                    CASE s.state
                        WHEN 'delivered' THEN CASE WHEN s.dkind = 'desk'
                            THEN 'filed at the desk' ELSE '250 2.0.0 Ok: queued as '
                            || upper(substr(md5(s.qid), 1, 10)) END
                        WHEN 'bounced' THEN '550 5.1.1 <' || s.rcpt || '>: Recipient address '
                            || 'rejected: User unknown in virtual mailbox table'
                        WHEN 'pending' THEN ''
                        ELSE '451 4.7.1 <' || s.rcpt || '>: Recipient address rejected: '
                            || 'Greylisted, try again later' END,
                    '', '', CASE WHEN s.state IN ('bounced', 'expired') THEN 'sent' ELSE '' END,
                    s.created, s.done
             FROM (SELECT r.*, b.m, b.qid, b.at + interval '50 milliseconds' AS created,
                          CASE WHEN r.state = 'pending' THEN 0
                               ELSE 1 + pg_temp.pick(b.m, 44, 3) END AS attempts,
                          b.at + interval '50 milliseconds'
                              + (100 + pg_temp.pick(b.m, 45, 3000)) * interval '1 millisecond'
                              + CASE WHEN r.state = 'pending' THEN interval '0'
                                     ELSE pg_temp.pick(b.m, 44, 3) * interval '10 minutes'
                                     END AS done
                   FROM bench_msg b
                   CROSS JOIN LATERAL (
                       SELECT CASE b.kind WHEN 'reply' THEN b.customer WHEN 'sales'
                                  THEN '{SALES}' ELSE '{HELP}' END AS rcpt,
                              CASE b.kind WHEN 'reply' THEN b.customer
                                  WHEN 'sales' THEN {intake_address.format(lead_intake)}
                                  ELSE {intake_address.format(case_intake)} END AS recipient,
                              CASE WHEN b.kind = 'reply' THEN 'remote' ELSE 'desk' END AS dkind,
                              CASE b.kind WHEN 'reply' THEN NULL WHEN 'sales' THEN {lead_intake}
                                  ELSE {case_intake} END AS intake_id,
                              CASE b.kind WHEN 'reply' THEN '[]'::jsonb
                                  WHEN 'sales' THEN '[{sales_rule}]'::jsonb
                                  ELSE '[{help_rule}]'::jsonb END AS rules,
                              CASE WHEN b.kind <> 'reply' THEN 'delivered'
                                   WHEN b.at >= '{recent}'::timestamptz THEN
                                       CASE WHEN b.u < 90 THEN 'delivered'
                                            WHEN b.u < 96 THEN 'deferred'
                                            WHEN b.u < 98 THEN 'bounced' ELSE 'pending' END
                                   WHEN b.u < 96 THEN 'delivered'
                                   WHEN b.u < 99 THEN 'bounced' ELSE 'expired' END AS state
                   ) r
                   WHERE b.kind <> 'spam') s
             ORDER BY s.m""",
         """INSERT INTO delivery_deliveryattempt (delivery_id, started_at, duration, host,
                outcome, reply)
            SELECT d.id, d.created_at + (k - 1) * interval '10 minutes',
                   0.05 + pg_temp.pick(d.id, 46, 2000) / 1000.0,
                   CASE WHEN d.kind = 'desk' THEN 'desk'
                        ELSE 'mx.' || split_part(d.recipient, '@', 2) END,
                   CASE WHEN k < d.attempts THEN 'deferred' ELSE d.state END,
                   CASE WHEN k < d.attempts THEN '451 4.7.1 Greylisted, try again later'
                        ELSE d.last_reply END
            FROM delivery_delivery d CROSS JOIN LATERAL generate_series(1, d.attempts) k
            ORDER BY d.id, k""")

    started = time.perf_counter()
    for table in ("desk_company", "desk_contact", "desk_case", "desk_lead", "desk_deskmessage",
                  "gateway_quarantine", "delivery_delivery"):
        sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
            f" (SELECT max(id) FROM {table}))")
    sql("DROP TABLE bench_msg")
    sql("DROP FUNCTION pg_temp.qid(bigint), pg_temp.at(bigint, bigint),"
        " pg_temp.pick(bigint, int, int)")
    sql("VACUUM (ANALYZE)")
    loaded.steps.append(("VACUUM (ANALYZE)", time.perf_counter() - started))
    print(f"  VACUUM (ANALYZE): {loaded.steps[-1][1]:.1f} s", flush=True)


COUNTED = [
    ("desk_case", "cases"), ("desk_deskmessage", "desk messages"), ("desk_lead", "leads"),
    ("desk_contact", "contacts"), ("desk_company", "companies"),
    ("desk_caseevent", "case events"), ("auditlog_logentry", "audit log entries"),
    ("gateway_message", "gateway messages *"), ("delivery_delivery", "deliveries *"),
    ("delivery_deliveryattempt", "delivery attempts *"),
    ("gateway_quarantine", "quarantine entries *"),
]


def counts() -> list[tuple[str, int]]:
    selects = " UNION ALL ".join(f"SELECT '{table}', count(*) FROM {table}"
                                 for table, _ in COUNTED)
    found = dict(fetch(selects))
    return [(label, found[table]) for table, label in COUNTED]


# --- pages ---------------------------------------------------------------------------------

def pages(loaded: Loaded, size: Sizes) -> list[tuple[str, str]]:
    """(name, URL) of every console page that shows data, with the ids it needs."""
    def one(statement: str) -> Any:
        rows = fetch(statement)
        if not rows:
            raise RuntimeError(f"no row for {statement}")
        return rows[0][0]

    half_msgs, half_cases = size.messages // 2, size.cases // 2
    desk_count = one("SELECT count(*) FROM desk_deskmessage")
    traced = one(f"""SELECT message_id FROM delivery_delivery WHERE attempts = 3
                     AND id >= {min(half_msgs, desk_count // 2)} ORDER BY id LIMIT 1""")
    searched = one(f"""SELECT message_id FROM gateway_message WHERE NOT spam
                       ORDER BY received_at OFFSET {half_msgs} LIMIT 1""")
    held = one("SELECT id FROM gateway_quarantine WHERE state = 'held' ORDER BY id DESC LIMIT 1")
    case = one(f"""SELECT case_id FROM desk_deskmessage WHERE case_id >= {half_cases}
                   GROUP BY case_id HAVING count(*) = 3 ORDER BY case_id LIMIT 1""")
    busiest = one("""SELECT contact_id FROM desk_case WHERE contact_id IS NOT NULL
                     GROUP BY contact_id ORDER BY count(*) DESC, contact_id LIMIT 1""")
    typical = one(f"""SELECT contact_id FROM desk_case WHERE contact_id > {size.contacts // 2}
                      GROUP BY contact_id HAVING count(*) BETWEEN 2 AND 4
                      ORDER BY contact_id LIMIT 1""")
    largest = one("""SELECT company_id FROM desk_contact WHERE company_id IS NOT NULL
                     GROUP BY company_id ORDER BY count(*) DESC, company_id LIMIT 1""")
    usual = one(f"""SELECT company_id FROM desk_contact
                    WHERE company_id > {size.companies // 2}
                    ORDER BY company_id LIMIT 1""")
    return [
        ("dashboard", "/console/dashboard/"),
        ("routing", "/console/routing/"),
        ("routing: simulate help@", f"/console/routing/?{urlencode({'rcpt': HELP})}"),
        ("routing: delete rule (confirm)", f"/console/routing/{loaded.ids['help_rule']}/delete"),
        ("trace", "/console/trace/"),
        ("trace: recipient help@", f"/console/trace/?{urlencode({'recipient': HELP})}"),
        ("trace: Message-ID", f"/console/trace/?{urlencode({'message_id': searched})}"),
        ("trace: status delivered", "/console/trace/?status=delivered"),
        ("trace: one message", f"/console/trace/{traced}/"),
        ("quarantine", "/console/quarantine/"),
        ("quarantine: all", "/console/quarantine/?all=1"),
        ("quarantine: one entry", f"/console/quarantine/{held}/"),
        ("quarantine: search 'offer'", "/console/quarantine/?q=offer"),
        ("quarantine: DMARC fail, score 5+", "/console/quarantine/?dmarc=fail&min_score=5"),
        ("quarantine: page 3", "/console/quarantine/?page=3"),
        ("directory", "/console/directory/"),
        ("audit", "/console/audit/"),
        ("cases", "/console/cases/"),
        ("cases: unassigned", "/console/cases/?queue=unassigned"),
        ("cases: open", "/console/cases/?queue=open"),
        ("cases: mine (none)", "/console/cases/?queue=mine"),
        ("cases: search 'some'", "/console/cases/?q=some"),
        ("cases: search, no match", "/console/cases/?q=zzqx"),
        ("case", f"/console/cases/{case}/"),
        ("leads", "/console/leads/"),
        ("contact: busiest", f"/console/contacts/{busiest}/"),
        ("contact: typical", f"/console/contacts/{typical}/"),
        ("company: largest", f"/console/companies/{largest}/"),
        ("company: typical", f"/console/companies/{usual}/"),
        ("login form", "/console/login/"),
    ]


class SqlClock:
    """Wall time and number of the SQL statements run since ``reset``."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.count = 0

    def reset(self) -> None:
        self.seconds, self.count = 0.0, 0

    def __call__(self, execute: Callable[..., Any], statement: str, params: Any, many: bool,
                 context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(statement, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.count += 1


@dataclass
class Timing:
    name: str
    url: str
    status: int | str = 0
    ms: list[float] = field(default_factory=list)
    sql_ms: list[float] = field(default_factory=list)
    queries: int = 0


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def measure(targets: list[tuple[str, str]], repeat: int, user: Any) -> list[Timing]:
    from django.db import connection
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")  # a host the console answers (CASEGATE_CONSOLE_URL)
    client.force_login(user)
    timings = [Timing(name, url) for name, url in targets]
    for timing in timings:  # warm-up, and each must answer 200
        try:
            timing.status = client.get(timing.url).status_code
        except Exception as exc:
            timing.status = f"{type(exc).__name__}: {exc}"[:200]
    live = [t for t in timings if t.status == 200]
    clock = SqlClock()
    with connection.execute_wrapper(clock):
        for round_number in range(repeat):
            for timing in live:
                clock.reset()
                started = time.perf_counter()
                status = client.get(timing.url).status_code
                timing.ms.append(1000 * (time.perf_counter() - started))
                timing.sql_ms.append(1000 * clock.seconds)
                timing.queries = clock.count
                if status != 200:
                    timing.status = status
            if (round_number + 1) % 10 == 0:
                print(f"  round {round_number + 1}/{repeat}", flush=True)
    return timings


def compact(statement: str) -> str:
    text = re.sub(r"\s+", " ", statement)
    return re.sub(r"^SELECT (DISTINCT )?.*? FROM ", r"SELECT \1... FROM ", text, count=1)


def diagnose(timing: Timing, user: Any) -> None:
    """The page's slowest statements, and the plan of the slowest."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")  # a host the console answers (CASEGATE_CONSOLE_URL)
    client.force_login(user)
    with CaptureQueriesContext(connection) as captured:
        client.get(timing.url)
    ranked = sorted(captured.captured_queries, key=lambda q: float(q["time"]), reverse=True)
    total = sum(float(q["time"]) for q in ranked) * 1000
    print(f"\n### {timing.name}  {timing.url}\n"
          f"p95 {percentile(timing.ms, 0.95):.1f} ms; this request: {len(ranked)} statements,"
          f" {total:.1f} ms in SQL. Slowest:")
    for rank, query in enumerate(ranked[:3]):
        text = compact(query["sql"])[:1500 if rank == 0 else 300]
        print(f"  {float(query['time']) * 1000:8.1f} ms  {text}")
    if ranked:
        print("EXPLAIN (ANALYZE, BUFFERS) of the slowest:")
        for (line,) in fetch("EXPLAIN (ANALYZE, BUFFERS) " + ranked[0]["sql"]):
            print(f"  {line}")
    profiler = cProfile.Profile()
    profiler.runcall(client.get, timing.url)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
    print(f"the rest ({statistics.median(timing.ms) - total:.0f} ms of the p50) is Python;"
          " cProfile of one request (top 15 by own time, profiler overhead included):")
    for line in out.getvalue().splitlines():
        if line.strip() and not line.lstrip().startswith(("Ordered by", "List reduced")):
            print("  " + re.sub(r"\S*/(site-packages|src)/", "", line.rstrip()))


# --- main ----------------------------------------------------------------------------------

def report(timings: list[Timing], budget: float) -> None:
    width = max(len(t.name) for t in timings)
    print(f"\n{'page':<{width}}  {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'queries':>7}"
          f" {'SQL p50':>8}  p95 < {budget:g} ms")
    for t in timings:
        if not t.ms:
            print(f"{t.name:<{width}}  FAILED: answered {t.status}  ({t.url})")
            continue
        p95 = percentile(t.ms, 0.95)
        verdict = "yes" if p95 < budget else "NO"
        if t.status != 200:
            verdict += f" (answered {t.status})"
        print(f"{t.name:<{width}}  {statistics.median(t.ms):8.1f} {p95:8.1f} {max(t.ms):8.1f}"
              f" {t.queries:7d} {statistics.median(t.sql_ms):8.1f}  {verdict}")
    print("\nURLs:")
    for t in timings:
        print(f"  {t.name:<{width}}  {t.url}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000,
                        help="gateway messages + deliveries + attempts + quarantine entries")
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per page")
    parser.add_argument("--budget", type=float, default=150.0, help="p95 target in ms")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    if args.cases < 100 or args.events < 1000 or args.repeat < 1:
        parser.error("the smallest run is --cases 100 --events 1000 --repeat 1")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the cleanup runs

    size = Sizes(args.cases, args.events)
    print(f"casegate console pages: {size.cases:,} cases, ~{size.events:,} trace events"
          f" ({size.messages:,} gateway messages); {args.repeat} timed requests per page;"
          f" {os.cpu_count()} CPUs", flush=True)
    home = Path(tempfile.mkdtemp(prefix="casegate-console-bench-"))
    failed = False
    try:
        with scratch_database(args.keep) as url:
            setup_django(url, home)
            import django

            version = fetch("SHOW server_version")[0][0]
            print(f"PostgreSQL {version}, Django {django.get_version()}, database"
                  f" {url.rsplit('/', 1)[1]}\nloading:", flush=True)
            loaded = Loaded()
            started = time.perf_counter()
            load(size, loaded)
            load_seconds = time.perf_counter() - started
            rows = counts()
            targets = pages(loaded, size)
            print(f"timing {len(targets)} pages:", flush=True)
            timings = measure(targets, args.repeat, loaded.ids["bench"])
            report(timings, args.budget)

            print("\nrows loaded:")
            for label, count in rows:
                print(f"  {label:<22} {count:>10,}")
            events = sum(count for label, count in rows if label.endswith("*"))
            print(f"  {'* trace events':<22} {events:>10,}")
            print(f"load time {load_seconds:.1f} s: "
                  + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in loaded.steps))

            failed = any(t.status != 200 for t in timings)
            slow = [t for t in timings if t.ms and percentile(t.ms, 0.95) >= args.budget]
            within = sum(1 for t in timings if t.ms and t not in slow and t.status == 200)
            print(f"\n{within} of {len(timings)} pages answer 200 with p95 under"
                  f" {args.budget:g} ms" + (f"; over budget: {', '.join(t.name for t in slow)}"
                                           if slow else ""), flush=True)
            for timing in slow:
                diagnose(timing, loaded.ids["bench"])
    finally:
        shutil.rmtree(home, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
