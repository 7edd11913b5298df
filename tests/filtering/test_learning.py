"""teach(): the message posted to rspamd's controller, and failures that never raise."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from casegate.filtering.learning import teach
from tests.support import free_port

RAW = b"From: dana@example.net\r\nSubject: hi\r\n\r\nhello\r\n"


class Controller(BaseHTTPRequestHandler):
    seen: list[tuple[str, str | None, bytes]] = []
    status = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Controller.seen.append((self.path, self.headers.get("Password"), body))
        self.send_response(Controller.status)
        self.end_headers()
        self.wfile.write(b'{"success":true}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def controller(setting: Callable[..., None]) -> Iterator[type[Controller]]:
    server = HTTPServer(("127.0.0.1", 0), Controller)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Controller.seen, Controller.status = [], 200
    setting("CASEGATE_RSPAMD_CONTROLLER_URL", f"http://127.0.0.1:{server.server_port}")
    setting("CASEGATE_RSPAMD_PASSWORD", "q1")
    yield Controller
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("spam", "path"), [(False, "/learnham"), (True, "/learnspam")])
def test_the_message_is_posted_to_learn_ham_or_spam(
        controller: type[Controller], spam: bool, path: str) -> None:
    teach(RAW, spam=spam)
    assert controller.seen == [(path, "q1", RAW)]


def test_a_refusal_is_logged_not_raised(controller: type[Controller],
                                        caplog: pytest.LogCaptureFixture) -> None:
    controller.status = 500
    with caplog.at_level(logging.WARNING, "casegate.filtering"):
        teach(RAW, spam=False)
    assert "classifier=rspamd learn=learnham status=500" in caplog.text


def test_an_unreachable_controller_is_logged_not_raised(
        setting: Callable[..., None], caplog: pytest.LogCaptureFixture) -> None:
    setting("CASEGATE_RSPAMD_CONTROLLER_URL", f"http://127.0.0.1:{free_port()}")
    with caplog.at_level(logging.WARNING, "casegate.filtering"):
        teach(RAW, spam=False)
    assert "classifier=rspamd learn=learnham failed=" in caplog.text


def test_after_a_failure_the_next_minute_s_decisions_are_not_taught(
        setting: Callable[..., None], caplog: pytest.LogCaptureFixture) -> None:
    setting("CASEGATE_RSPAMD_CONTROLLER_URL", f"http://127.0.0.1:{free_port()}")
    with caplog.at_level(logging.INFO, "casegate.filtering"):
        teach(RAW, spam=False)
        for _ in range(3):
            teach(RAW, spam=False)
    assert caplog.text.count("learn=learnham failed=") == 1
    assert caplog.text.count("learn=skipped reason=controller-failed within=60s") == 3


def test_without_a_controller_nothing_is_taught(setting: Callable[..., None]) -> None:
    setting("CASEGATE_RSPAMD_CONTROLLER_URL", None)
    teach(RAW, spam=True)  # nothing to reach, nothing raised


def test_a_controller_that_answers_nonsense_is_logged_not_raised(
        setting: Callable[..., None], caplog: pytest.LogCaptureFixture) -> None:
    with socket.create_server(("127.0.0.1", 0)) as nonsense:
        setting("CASEGATE_RSPAMD_CONTROLLER_URL",
                f"http://127.0.0.1:{nonsense.getsockname()[1]}")

        def answer() -> None:
            client, _ = nonsense.accept()
            with client:
                client.recv(65536)
                client.sendall(b"not http at all\r\n\r\n")

        thread = threading.Thread(target=answer)
        thread.start()
        with caplog.at_level(logging.WARNING, "casegate.filtering"):
            teach(RAW, spam=False)
        thread.join()
    assert "classifier=rspamd learn=learnham failed=" in caplog.text
