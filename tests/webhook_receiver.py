"""A real HTTP receiver on loopback for the webhook tests (docs/rules.md rule 32).

``Receiver`` runs ``http.server`` in a thread on 127.0.0.1 and answers each
POST with the next of its ``replies`` (the last one repeats): a status, a
body, a delay before answering, a trickle (the body one byte at a time), a
redirect, a huge body. It keeps every request it got (path, headers, raw
body), so a test can verify the signature as a receiver would.
"""
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"ok"
    delay: float = 0.0  # seconds before the status line
    trickle: float = 0.0  # seconds between the body's bytes
    location: str | None = None
    huge: int = 0  # bytes of body streamed after ``body`` (the receiver stops when the portal hangs up)


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes


@dataclass
class Receiver:
    replies: list = field(default_factory=lambda: [Reply()])
    received: list = field(default_factory=list)

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver.lock:
                    index = len(receiver.received)
                    receiver.received.append(Received(self.path, dict(self.headers.items()), body))
                reply = receiver.replies[min(index, len(receiver.replies) - 1)]
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    if reply.location:
                        self.send_header("Location", reply.location)
                    if reply.huge:
                        self.send_header("Content-Length", str(len(reply.body) + reply.huge))
                    elif not reply.trickle:
                        self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    if reply.trickle:
                        for byte in reply.body:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(reply.trickle)
                    else:
                        self.wfile.write(reply.body)
                    chunk = b"x" * 65536
                    sent = 0
                    while sent < reply.huge:
                        self.wfile.write(chunk)
                        sent += len(chunk)
                except (BrokenPipeError, ConnectionResetError, OSError):
                    pass  # the portal hung up, as it should

        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/portal"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(app, monkeypatch):
    """A receiver on loopback, allowed (PORTAL_WEBHOOK_ALLOW_PRIVATE), retried at once, 2 s per attempt."""
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", True)
    monkeypatch.setitem(app.config, "WEBHOOK_RETRY_SECONDS", "0,0,0")
    monkeypatch.setitem(app.config, "WEBHOOK_TIMEOUT", 2)
    started = Receiver().start()
    yield started
    started.stop()
