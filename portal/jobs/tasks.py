"""The tasks of the queue. Each runs inside an app context of the app that built the queue, and carries only ids."""
from huey import crontab

from portal.domain import mail
from portal.domain.insights import baselines as insight_baselines
from portal.domain.webhooks import delivery as webhooks


def register(huey, app) -> dict:
    """Register the tasks on ``huey``; returns them by name (the names ``handoff.after_commit`` uses)."""
    from portal import jobs

    @huey.task(name="send_mail")
    def send_mail(message_id: int):
        """One attempt at an e-mail (if it is still pending and due); its retry is scheduled at its time."""
        run = jobs.draining.get()  # a run until empty: each message once, its retry left to the next run
        if run is not None and not run.first_try(message_id):
            return None
        cutoff = run.started if run is not None else None
        with app.app_context():
            outcome = mail.deliver(message_id, cutoff=cutoff, will_retry=run is None)
        if outcome is not None and outcome.status == "retry" and run is None:
            send_mail.schedule((message_id,), eta=jobs.huey_time(outcome.retry_at))
        return outcome.status if outcome is not None else None

    @huey.task(name="deliver_webhook")
    def deliver_webhook(delivery_id: int):
        """One attempt at a webhook delivery (docs/rules.md rule 32); the next attempt is scheduled at its time."""
        run = jobs.draining.get()
        if run is not None and not run.first_try(("webhook", delivery_id)):
            return None
        with app.app_context():
            outcome = webhooks.deliver(delivery_id, cutoff=run.started if run is not None else None)
        if outcome is not None and outcome.status == "retry" and run is None:
            deliver_webhook.schedule((outcome.next_delivery_id,), eta=jobs.huey_time(outcome.retry_at))
        return outcome.status if outcome is not None else None

    @huey.task(name="relay")
    def relay():
        """Hand on the outbox's events; release dead workers' claims and queue lost e-mails again."""
        jobs.relay_now(app)

    @huey.periodic_task(crontab(), name="relay_every_minute")
    def relay_every_minute():
        jobs.relay_now(app)

    @huey.periodic_task(crontab(), name="insight_baselines_every_minute")
    def insight_baselines_every_minute():
        """Build the insight baselines that are missing, of another day or outdated (docs/rules.md rule 36)."""
        with app.app_context():
            insight_baselines.refresh()

    return {"send_mail": send_mail, "deliver_webhook": deliver_webhook, "relay": relay}
