"""Signed webhooks (docs/rules.md rule 32).

- ``endpoints``: a partner's endpoints (create, change, pause, delete), each
  change audited; at most 20 per organisation.
- ``addresses``: the SSRF check, at registration and again at each delivery.
- ``signing``: the secret (shown once, stored encrypted) and the
  ``Portal-Signature`` header.
- ``delivery``: the fan-out of an outbox event to the endpoints subscribed to
  it, one attempt at a delivery (``deliver``), the retries, "send again",
  the ping, and disabling an endpoint that has failed for three days.
"""
