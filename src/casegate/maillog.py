"""The log as an operator reads it: Postfix-style ``key=value`` lines, or one JSON object a
line with the same keys; and following one message through it by its queue id.

A line about a message carries ``queue=ID``. :func:`log_fields` writes a line from named
fields and hands the same fields to the JSON format as they are (numbers stay numbers);
for any other line the JSON format reads the ``key=value`` pairs out of the text.
"""

from __future__ import annotations

import ast
import contextlib
import gzip
import json
import logging
import logging.handlers
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from casegate.text import whole_number

# A value with a space or a quote in it is written quoted, as Python's repr() quotes it
# (the way casegate's lines always wrote replies: reply='250 2.0.0 Ok').
_BARE = re.compile(r"[^\s'\"=]+")
_PAIR = re.compile(r"""(?<!\S)([a-z][a-z0-9_]*)=('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\S*)""")
# What JSON lines always carry; a field of the same name does not replace them.
_RECORD_KEYS = ("time", "level", "logger", "pid", "message")
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s[%(process)d] %(message)s"


def value_text(value: object) -> str:
    text = str(value)
    return text if _BARE.fullmatch(text) else repr(text)


def address_text(address: str) -> str:
    """An envelope address as a value, ``<addr>``, quoted when it holds a space, a quote or
    an ``=`` (a quoted local part may): a sender cannot write ``client=`` into a line."""
    return value_text(f"<{address}>")


def fields_line(fields: Mapping[str, object]) -> str:
    """``key=value`` pairs in the fields' order; values with spaces or quotes quoted."""
    return " ".join(f"{key}={value_text(value)}" for key, value in fields.items())


def log_fields(logger: logging.Logger, fields: Mapping[str, object],
               level: int = logging.INFO) -> None:
    """One line of ``fields``: ``key=value`` in the plain format, the values themselves in
    JSON."""
    logger.log(level, "%s", fields_line(fields), extra={"fields": dict(fields)})


def parse_fields(text: str) -> dict[str, str]:
    """The ``key=value`` pairs of a plain line (quoted values unquoted)."""
    found: dict[str, str] = {}
    for key, raw in _PAIR.findall(text):
        if raw[:1] in ("'", '"') and len(raw) > 1:
            with contextlib.suppress(ValueError, SyntaxError):
                raw = str(ast.literal_eval(raw))
        found.setdefault(key, raw)
    return found


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, pid, the line's fields, the message."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        fields = getattr(record, "fields", None) or parse_fields(message)
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "pid": record.process,
        }
        line.update((k, v) for k, v in fields.items() if k not in _RECORD_KEYS)
        line["message"] = message
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class ReopenedFileHandler(logging.handlers.WatchedFileHandler):
    """A log file reopened when it is moved away (logrotate), as Postfix's maillog is; a
    file that cannot be reopened (its directory removed) makes the line a logging error,
    as any other failed write, never an exception in the code that logs."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.reopenIfNeeded()
        except OSError:
            self.handleError(record)
            return
        logging.FileHandler.emit(self, record)


def logging_settings(log_format: str, level: str, file: Path | None) -> dict[str, Any]:
    """Django's ``LOGGING``: casegate's loggers at ``level``, to ``file`` or stderr.

    The file is reopened when it is moved away (see :class:`ReopenedFileHandler`).
    """
    handler: dict[str, Any] = (
        {"class": "casegate.maillog.ReopenedFileHandler", "filename": str(file),
         "encoding": "utf-8"} if file else {"class": "logging.StreamHandler"})
    handler["formatter"] = log_format
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": PLAIN_FORMAT},
                       "json": {"()": JsonFormatter}},
        "handlers": {"log": handler},
        "loggers": {
            "casegate": {"handlers": ["log"], "level": level},
            "mail.log": {"handlers": ["log"], "level": "WARNING", "propagate": False},
        },
    }


def _json_line_queue(line: str) -> str | None:
    """The queue id of a JSON line, also after the prefix journalctl writes before it
    (``Dec 01 10:00:00 mx casegate[812]: {…}``)."""
    start = line.find("{")
    if start < 0:
        return None
    try:
        parsed = json.loads(line[start:])
    except ValueError:
        return None
    return str(parsed.get("queue")) if isinstance(parsed, dict) else None


def lines_of(queue_id: str, lines: Iterable[str]) -> Iterator[str]:
    """The lines about the message ``queue_id``, plain or JSON, in their order."""
    plain = re.compile(rf"(?<!\S)queue={re.escape(queue_id)}(?!\S)")
    quoted = f'"{queue_id}"'
    for line in lines:
        if plain.search(line) or (quoted in line and _json_line_queue(line) == queue_id):
            yield line.rstrip("\n")


def rotated(file: Path) -> list[Path]:
    """``file`` and the copies logrotate made of it (``file.1``, ``file.2.gz``…), oldest
    first."""
    def generation(path: Path) -> int:
        number = path.name[len(file.name) + 1:].removesuffix(".gz")
        found = whole_number(number)
        return -1 if found is None else found

    older = [p for p in file.parent.glob(f"{file.name}.*") if generation(p) >= 0]
    return [*sorted(older, key=generation, reverse=True), *([file] if file.exists() else [])]


def open_log(path: Path) -> TextIO:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return path.open(encoding="utf-8", errors="replace")
