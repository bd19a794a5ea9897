"""Authlib's requests session sends through the one guarded client (engine/outbound/transport.py)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from engine.outbound import client
from engine.outbound.transport import Unreachable, guard


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        size = 2 * client.MAX_RESPONSE_BYTES if self.path == "/big" else 0
        data = json.dumps({"got": body.decode(), "pad": "x" * size}).encode()
        self.send_response(200 if self.path != "/moved" else 302)
        self.send_header("Location", "http://169.254.169.254/")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def session(allow_private: bool) -> requests.Session:
    made = requests.Session()
    guard(made, allow_private, timeout=5.0)
    return made


def test_a_guarded_session_sends_through_the_client(server):
    answer = session(allow_private=True).post(server + "/token", data={"code": "abc"})
    assert answer.status_code == 200 and answer.json()["got"] == "code=abc"


def test_the_address_policy_applies(server):
    with pytest.raises(Unreachable, match="127.0.0.1"):
        session(allow_private=False).post(server + "/token", data={"a": "b"})
    with pytest.raises(Unreachable, match="169.254.169.254"):  # never, whatever the setting
        session(allow_private=True).get("http://169.254.169.254/latest/meta-data/")


def test_no_redirect_is_followed_and_answers_are_capped(server):
    answer = session(allow_private=True).post(server + "/moved", data={"a": "b"})
    assert answer.status_code == 302  # the caller's answer; never followed to the metadata address
    with pytest.raises(Unreachable, match="larger than"):
        session(allow_private=True).post(server + "/big", data={"a": "b"})
