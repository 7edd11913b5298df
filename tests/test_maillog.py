"""Log lines: key=value written and read back, JSON lines with the same keys, the logging
settings, and finding one message's lines in plain and JSON logs and their rotations."""

from __future__ import annotations

import json
import logging
import logging.config
import re
from pathlib import Path

import pytest

from casegate.maillog import (
    JsonFormatter,
    ReopenedFileHandler,
    fields_line,
    lines_of,
    log_fields,
    logging_settings,
    parse_fields,
    rotated,
)


def test_values_with_spaces_or_quotes_are_quoted_and_read_back() -> None:
    fields = {"queue": "Q1", "to": "<a@b.example>", "reply": "250 2.0.0 Ok: it's stored",
              "empty": "", "delay": 1.25}
    line = fields_line(fields)
    assert line.startswith("queue=Q1 to=<a@b.example> reply=")
    assert parse_fields(f"casegate.delivery[12] {line}") == {
        key: str(value) for key, value in fields.items()}


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("casegate.delivery", logging.INFO, __file__, 1, message, args,
                               None)
    record.__dict__.update(extra)
    return record


def test_a_json_line_has_the_fields_passed_with_their_types() -> None:
    fields = {"queue": "Q1", "status": "delivered", "delay": 0.5, "message": "not this"}
    line = json.loads(JsonFormatter().format(_record("%s", fields_line(fields),
                                                     fields=fields)))
    assert line["queue"] == "Q1" and line["status"] == "delivered" and line["delay"] == 0.5
    assert line["logger"] == "casegate.delivery" and line["level"] == "INFO"
    assert line["message"].startswith("queue=Q1 ") and line["time"].endswith("+00:00")


def test_a_json_line_of_a_plain_message_has_its_key_value_pairs() -> None:
    line = json.loads(JsonFormatter().format(
        _record("queue=%s accepted from=<%s> reason=%r", "Q2", "a@b.example", "too big")))
    assert (line["queue"], line["from"], line["reason"]) == ("Q2", "<a@b.example>", "too big")


@pytest.mark.parametrize("log_format", ["plain", "json"])
def test_the_settings_write_at_the_level_to_the_file(tmp_path: Path, log_format: str) -> None:
    file = tmp_path / "casegate.log"
    logging.config.dictConfig(logging_settings(log_format, "WARNING", file))
    try:
        logger = logging.getLogger("casegate.test")
        logger.info("queue=QI not at this level")
        log_fields(logger, {"queue": "QW", "status": "deferred"}, logging.WARNING)
    finally:
        logging.config.dictConfig(logging_settings("plain", "INFO", None))
    lines = file.read_text().splitlines()
    assert len(lines) == 1
    if log_format == "json":
        assert json.loads(lines[0])["queue"] == "QW"
    else:
        assert re.search(r" WARNING casegate\.test\[\d+\] queue=QW status=deferred$", lines[0])


def test_one_message_is_found_in_plain_and_json_lines_and_no_other() -> None:
    lines = [
        "2025-01-01 INFO casegate.gateway[1] queue=AB12 accepted from=<a@b.example>\n",
        "2025-01-01 INFO casegate.gateway[1] queue=AB123 accepted\n",
        json.dumps({"queue": "AB12", "status": "delivered"}) + "\n",
        json.dumps({"queue": "AB123", "note": '"AB12"'}) + "\n",
        "not json {\"AB12\"\n",
        "Dec 01 10:00:00 mx casegate[812]: " + json.dumps({"queue": "AB12"}) + "\n",
    ]
    assert list(lines_of("AB12", lines)) == [lines[0].rstrip(), lines[2].rstrip(),
                                             lines[5].rstrip()]  # as journalctl shows it


def test_rotated_copies_come_oldest_first(tmp_path: Path) -> None:
    log = tmp_path / "casegate.log"
    for name in ("casegate.log", "casegate.log.1", "casegate.log.2.gz", "casegate.log.10.gz",
                 "casegate.log.old"):
        (tmp_path / name).write_text("")
    assert [p.name for p in rotated(log)] == [
        "casegate.log.10.gz", "casegate.log.2.gz", "casegate.log.1", "casegate.log"]


def test_a_log_file_that_cannot_be_reopened_never_raises_into_the_caller(tmp_path: Path
                                                                          ) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    handler = ReopenedFileHandler(str(folder / "casegate.log"))
    handler.handleError = lambda record: None  # type: ignore[method-assign]
    (folder / "casegate.log").unlink()
    folder.rmdir()
    handler.emit(logging.LogRecord("casegate", logging.WARNING, __file__, 1, "gone", None, None))
    handler.close()


def test_an_address_cannot_write_fields_of_its_own() -> None:
    from casegate.maillog import address_text, parse_fields

    assert address_text("a@b.example") == "<a@b.example>" and address_text("") == "<>"
    forged = '"x queue=FAKE client=6.6.6.6"@example.com'
    line = f"queue=Q1 accepted from={address_text(forged)} client=192.0.2.7"
    assert parse_fields(line) == {"queue": "Q1", "from": f"<{forged}>", "client": "192.0.2.7"}
