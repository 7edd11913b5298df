"""The full-text index of desk messages: an FTS5 table kept by triggers on SQLite, a
generated tsvector column with a GIN index on PostgreSQL (see casegate.desk.search)."""

from collections.abc import Callable
from typing import Any

from django.db import migrations

SQLITE = [
    "CREATE VIRTUAL TABLE desk_message_search USING fts5(subject, text, sender, sender_name,"
    " recipients, cc, content='desk_deskmessage', content_rowid='id',"
    " tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER desk_message_search_insert AFTER INSERT ON desk_deskmessage BEGIN"
    " INSERT INTO desk_message_search(rowid, subject, text, sender, sender_name, recipients, cc)"
    " VALUES (new.id, new.subject, new.text, new.sender, new.sender_name, new.recipients,"
    " new.cc); END",
    "CREATE TRIGGER desk_message_search_delete AFTER DELETE ON desk_deskmessage BEGIN"
    " INSERT INTO desk_message_search(desk_message_search, rowid, subject, text, sender,"
    " sender_name, recipients, cc) VALUES ('delete', old.id, old.subject, old.text,"
    " old.sender, old.sender_name, old.recipients, old.cc); END",
    "CREATE TRIGGER desk_message_search_update AFTER UPDATE OF subject, text, sender,"
    " sender_name, recipients, cc ON desk_deskmessage BEGIN"
    " INSERT INTO desk_message_search(desk_message_search, rowid, subject, text, sender,"
    " sender_name, recipients, cc) VALUES ('delete', old.id, old.subject, old.text,"
    " old.sender, old.sender_name, old.recipients, old.cc);"
    " INSERT INTO desk_message_search(rowid, subject, text, sender, sender_name, recipients, cc)"
    " VALUES (new.id, new.subject, new.text, new.sender, new.sender_name, new.recipients,"
    " new.cc); END",
    "INSERT INTO desk_message_search(desk_message_search) VALUES ('rebuild')",
]
# SQLite drops a table's triggers with it, and Django remakes a table for some changes: a
# later migration that remakes desk_deskmessage must create the triggers again (the search
# tests fail when they are missing).
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS desk_message_search_update",
    "DROP TRIGGER IF EXISTS desk_message_search_delete",
    "DROP TRIGGER IF EXISTS desk_message_search_insert",
    "DROP TABLE IF EXISTS desk_message_search",
]

# The text is cut at 100,000 characters: a tsvector holds at most 1 MB, and a longer text
# must not stop a message from being stored.
POSTGRESQL = [
    "ALTER TABLE desk_deskmessage ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
    " setweight(to_tsvector('simple', coalesce(subject, '')), 'A')"
    " || to_tsvector('simple', left(coalesce(text, ''), 100000) || ' ' || coalesce(sender, '')"
    " || ' ' || coalesce(sender_name, '') || ' ' || coalesce(recipients, '') || ' '"
    " || coalesce(cc, ''))) STORED",
    "CREATE INDEX desk_deskmessage_search ON desk_deskmessage USING gin (search_vector)",
]
POSTGRESQL_REVERSE = [
    "DROP INDEX IF EXISTS desk_deskmessage_search",
    "ALTER TABLE desk_deskmessage DROP COLUMN IF EXISTS search_vector",
]


def _run(statements: dict[str, list[str]]) -> Callable[[Any, Any], None]:
    """The statements for the database the migration runs on."""
    def run(apps: Any, schema_editor: Any) -> None:
        for statement in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)
    return run


class Migration(migrations.Migration):

    dependencies = [
        ('desk', '0007_suspended_mail_blocked_senders'),
    ]

    operations = [
        migrations.RunPython(_run({"sqlite": SQLITE, "postgresql": POSTGRESQL}),
                             _run({"sqlite": SQLITE_REVERSE, "postgresql": POSTGRESQL_REVERSE})),
    ]
