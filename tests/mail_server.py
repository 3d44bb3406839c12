"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""
import socket
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller


# Called before an inbox is read (set by tests/conftest.py, tests/e2e/conftest.py): the portal queues its
# e-mails and a worker sends them (docs/rules.md rule 31), so the test lets the worker do what is due first.
settle = None


class Receiver:
    """aiosmtpd's handler: keeps each message in its inbox."""

    def __init__(self, inbox):
        self.inbox = inbox

    async def handle_DATA(self, server, session, envelope):
        self.inbox.received.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted"


class Inbox:
    def __init__(self):
        self.received = []

    @property
    def messages(self):
        """What the server received, once the portal's due jobs are done."""
        if settle is not None:
            settle()
        return self.received

    def to(self, address):
        return [m for m in self.messages if m["To"] == address]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(port: int | None = None):
    inbox = Inbox()
    controller = Controller(Receiver(inbox), hostname="127.0.0.1", port=port or free_port())
    controller.start()
    return controller, inbox
