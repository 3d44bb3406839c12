"""The task queue (docs/rules.md rule 31), on Huey: e-mails and the outbox's relay run here, never in a request.

Storage: by default Huey's SQLite storage, a file in the instance folder
(PORTAL_JOBS_SQLITE_PATH to put it elsewhere): no extra server, every process
of one machine shares it. With PORTAL_REDIS_URL the queue is in Redis, and any
number of workers on any number of machines share it.

The queue only carries ids: the database tables are the truth (``mail_messages``,
``outbox_events``), written in the transaction of the change. A task claims its
row with a conditional UPDATE before acting, so a task run twice (two workers,
a task queued again by the relay) acts once; a task lost (a worker killed, the
queue down when a change committed) leaves its row due, and the relay queues it
again (at-least-once).

- ``init_app`` hands the domain's notes (``portal.domain.handoff``) to the
  queue after each commit.
- ``run_worker`` is ``flask jobs run``: Huey's consumer, with the relay every
  minute, until stopped.
- ``run_until_empty`` is ``flask jobs run --until-empty`` (cron, tests): every
  job and retry due when it starts, each message tried at most once, then it
  returns; a failed attempt's retry waits for its time.
"""
import os
import threading
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timezone

from flask import Flask, current_app, has_app_context
from huey import RedisHuey, SqliteHuey
from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.domain import events, handoff, mail
from portal.domain.webhooks import delivery as webhooks
from portal.models.mixins import utcnow

EXTENSION = "portal.jobs"


@dataclass
class Draining:
    """A ``run_until_empty`` under way: when it started (messages due later wait for the next run) and the
    messages it tried (each at most once, even when its retry is due at once)."""

    started: datetime
    tried: set = field(default_factory=set)

    def first_try(self, message_id: int) -> bool:
        if message_id in self.tried:
            return False
        self.tried.add(message_id)
        return True


draining: ContextVar[Draining | None] = ContextVar("jobs_draining", default=None)

# Set while a relay waits on the queue: one is enough for every commit until it starts. A relay task
# lost with it set leaves the events to the relay that every worker runs each minute, which clears it.
RELAY_WAITING = "relay-waiting"


class Jobs:
    """The queue of one app: its Huey instance, built on first use (so ``flask db upgrade`` never opens it)."""

    def __init__(self, app: Flask):
        self.app = app
        self._huey = None
        self._tasks = None
        self._lock = threading.Lock()

    @property
    def huey(self):
        if self._huey is None:
            with self._lock:
                if self._huey is None:
                    from portal.jobs import tasks

                    huey = build_huey(self.app.config, self.app.instance_path)
                    self._tasks = tasks.register(huey, self.app)
                    self._huey = huey
        return self._huey

    @property
    def tasks(self) -> dict:
        self.huey  # noqa: B018 - builds the instance and its tasks
        return self._tasks

    def enqueue(self, task: str, *args) -> None:
        """Put ``task(*args)`` on the queue now (``relay`` only if none is waiting already)."""
        if task == "relay" and not self.huey.put_if_empty(RELAY_WAITING, b"1"):
            return  # a relay that has not started yet will see this commit's events
        self.tasks[task](*args)

    def waiting(self) -> "Waiting | None":
        """How many tasks wait on the queue (and are scheduled for later); None when it cannot be reached."""
        try:
            return Waiting(pending=self.huey.pending_count(), scheduled=self.huey.scheduled_count())
        except Exception:  # noqa: BLE001 - Redis down, SQLite file locked: the screen says "unreachable"
            current_app.logger.warning("The task queue could not be read", exc_info=True)
            return None


@dataclass(frozen=True)
class Waiting:
    pending: int
    scheduled: int


def build_huey(config, instance_path: str):
    """Huey on Redis (PORTAL_REDIS_URL) or on a SQLite file (PORTAL_JOBS_SQLITE_PATH, else the instance folder)."""
    name = config.get("JOBS_QUEUE_NAME") or "portal"
    url = config.get("REDIS_URL")
    if url:
        import redis

        pool = redis.ConnectionPool.from_url(url, socket_connect_timeout=2, socket_timeout=10)
        return RedisHuey(name, connection_pool=pool, results=False, utc=True)
    path = config.get("JOBS_SQLITE_PATH") or os.path.join(instance_path, "jobs.sqlite")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    return SqliteHuey(name, filename=path, results=False, utc=True, timeout=30)


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = Jobs(app)
    _listen_to_commits()


def jobs_of(app: Flask | None = None) -> Jobs:
    return (app or current_app).extensions[EXTENSION]


_listening = False


def _listen_to_commits() -> None:
    global _listening
    if _listening:
        return
    event.listen(Session, "after_commit", _hand_over)
    event.listen(Session, "after_rollback", _drop)
    _listening = True


def _hand_over(session) -> None:
    """After a commit: queue what the transaction asked for. A queue that is down loses nothing (the relay)."""
    notes = handoff.take(session)
    if not notes or not has_app_context():
        return
    jobs = current_app.extensions.get(EXTENSION)
    if jobs is None:
        return
    for task, args in notes:
        try:
            jobs.enqueue(task, *args)
        except Exception:  # noqa: BLE001 - the committed row stays due: the relay queues it again
            current_app.logger.warning("Task %s%r not queued; the relay will queue it again", task, args,
                                       exc_info=True)


def _drop(session) -> None:
    """After a rollback of the whole transaction (not of a savepoint inside it): nothing to queue."""
    if not session.in_nested_transaction():
        handoff.take(session)


# ---------------------------------------------------------------- running jobs


def huey_time(moment: datetime) -> datetime:
    """A time as Huey keeps them (naive UTC)."""
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


@dataclass
class RunReport:
    """What ``run_until_empty`` did: tasks run, and the e-mails and webhook deliveries sent, to retry
    later, failed."""

    tasks: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0

    def count(self, outcome) -> None:
        status = getattr(outcome, "status", outcome)
        if status in ("sent", "succeeded"):
            self.sent += 1
        elif status == "retry":
            self.retrying += 1
        elif status == "failed":
            self.failed += 1


def run_until_empty(app: Flask | None = None, progress=None) -> RunReport:
    """Do every job due now, then return: ``flask jobs run --until-empty``.

    The relay first (events handed on, claims of dead workers released, lost
    tasks found), then every task on the queue and every scheduled one due
    when the run started, then every message still due then (a task lost on
    the way). A message is tried at most once per run: a failed attempt is
    rescheduled on PORTAL_MAIL_RETRY_SECONDS and waits for the next run,
    even with a delay of 0. ``progress(done, total)``, if given, is told of
    each job done; the total is what is done plus what waits on the queue now,
    so it grows as jobs queue others (``portal.cli.progress``).
    """
    app = app or current_app._get_current_object()
    jobs = jobs_of(app)
    huey = jobs.huey
    started = utcnow()
    run = Draining(started)
    token = draining.set(run)
    report = RunReport()
    done = 0

    def one_done(waiting: int) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, done + waiting)

    try:
        while True:
            before = (report.tasks, report.sent, report.retrying, report.failed)
            relay_now(app)
            while True:
                task = huey.dequeue()
                batch = [task] if task is not None else huey.read_schedule(huey_time(started))
                if not batch:
                    break
                for task in batch:
                    report.tasks += 1
                    report.count(huey.execute(task, huey_time(utcnow())))
                    one_done(huey.pending_count() if progress is not None else 0)
            with app.app_context():
                messages = mail.due(started)
                for index, message_id in enumerate(messages, start=1):
                    if run.first_try(message_id):
                        report.count(mail.deliver(message_id, cutoff=started, will_retry=False))
                        one_done(len(messages) - index)
                deliveries = webhooks.due(started)
                for index, delivery_id in enumerate(deliveries, start=1):
                    if run.first_try(("webhook", delivery_id)):
                        report.count(webhooks.deliver(delivery_id, cutoff=started))
                        one_done(len(deliveries) - index)
            if (report.tasks, report.sent, report.retrying, report.failed) == before:
                return report
    finally:
        draining.reset(token)


def relay_now(app: Flask) -> None:
    """The relay: hand on the outbox's events, release dead workers' claims, queue lost e-mails and
    webhook deliveries again."""
    jobs = jobs_of(app)
    jobs.huey.delete(RELAY_WAITING)  # from now on a commit asks for another relay
    with app.app_context():
        events.relay()
        lost = mail.recover()
        lost_deliveries = webhooks.lost()
    if draining.get() is None:  # a run until empty sends every due message itself
        for message_id in lost:
            jobs.tasks["send_mail"](message_id)
        for delivery_id in lost_deliveries:
            jobs.tasks["deliver_webhook"](delivery_id)


def run_worker(app: Flask, workers: int = 1) -> None:
    """Huey's consumer with ``workers`` threads and the relay every minute, until SIGINT or SIGTERM."""
    huey = jobs_of(app).huey
    relay_now(app)  # what was left when the last worker stopped
    consumer = huey.create_consumer(workers=workers, worker_type="thread", periodic=True, initial_delay=0.1,
                                    backoff=1.15, max_delay=1.0, check_worker_health=True)
    consumer.run()
