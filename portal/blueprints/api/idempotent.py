"""The ``Idempotency-Key`` header on POST, around the view.

A keyed request runs in one held transaction (portal/domain/transactions.py):
the view's change, the key and the answer to replay commit together, or not
at all. The answer, success or refusal, is replayed for 24 hours with
``Idempotent-Replayed: true``. An unexpected failure (5xx) commits nothing, so
its "nothing was changed" is true and the same request can be retried; so does
a database that goes away before the commit.
"""
from functools import wraps

from flask import current_app, g, request
from sqlalchemy.exc import IntegrityError

from portal.blueprints.api.errors import ApiError
from portal.blueprints.api.schemas import IDEMPOTENCY_KEY
from portal.domain import idempotency
from portal.domain.transactions import held_transaction
from portal.extensions import db

HEADER = "Idempotency-Key"


def idempotent(view):
    @wraps(view)
    def wrapped(**kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view(**kwargs)
        if not IDEMPOTENCY_KEY.fullmatch(key):
            raise ApiError(422, "The Idempotency-Key must be 1 to 255 visible ASCII characters.",
                           fields={HEADER: "1 to 255 visible ASCII characters."})
        body = request.get_data(cache=True)
        g.api_raw_body = body
        fingerprint = idempotency.request_hash(request.method, request.path, body)
        try:
            with held_transaction():
                return _run_once(view, kwargs, key, fingerprint)
        except IntegrityError:
            # A concurrent request with this key committed first: ours was rolled back; answer with theirs.
            db.session.rollback()
            return _replay(idempotency.stored_answer(g.api_user.id, key, fingerprint))

    return wrapped


def _run_once(view, kwargs, key: str, fingerprint: str):
    """Inside the held transaction: replay the stored answer, or run the view and store its answer."""
    user_id = g.api_user.id
    stored = idempotency.stored_answer(user_id, key, fingerprint)
    if stored is not None:
        return _replay(stored)
    try:
        response = view(**kwargs)
    except Exception as error:  # noqa: BLE001 - answered by the blueprint's handlers, then stored
        response = current_app.make_response(current_app.handle_user_exception(error))
    if response.status_code >= 500:
        db.session.rollback()  # commit nothing: the answer says nothing was changed
        return response
    idempotency.store_answer(user_id, g.api_token.id, key, request.method, request.path, fingerprint,
                             response.status_code, response.get_data(as_text=True))
    return response


def _replay(answer: idempotency.Answer):
    response = current_app.response_class(answer.body, status=answer.status, mimetype="application/json")
    response.headers["Idempotent-Replayed"] = "true"
    return response
