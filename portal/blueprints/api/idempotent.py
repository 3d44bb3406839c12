"""The ``Idempotency-Key`` header on POST, around the view.

The key is reserved before the view runs (portal/domain/idempotency.py); the
view's answer, success or refusal, is stored and replayed for 24 hours with
``Idempotent-Replayed: true``. An unexpected failure (5xx) releases the key so
the same request can be retried.
"""
from functools import wraps

from flask import current_app, g, request

from portal.blueprints.api.errors import ApiError
from portal.blueprints.api.schemas import IDEMPOTENCY_KEY
from portal.domain import idempotency

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
        reservation = idempotency.reserve(
            g.api_user.id, g.api_token.id, key, request.method, request.path,
            idempotency.request_hash(request.method, request.path, body),
            wait=current_app.config.get("API_IDEMPOTENCY_WAIT", 5.0))
        if reservation.is_replay:
            response = current_app.response_class(reservation.body, status=reservation.status,
                                                  mimetype="application/json")
            response.headers["Idempotent-Replayed"] = "true"
            return response
        try:
            response = view(**kwargs)
        except Exception as error:  # noqa: BLE001 - answered by the blueprint's handlers, then stored
            response = current_app.handle_user_exception(error)
            response = current_app.make_response(response)
        if response.status_code >= 500:
            idempotency.release(reservation.key_id)
        else:
            idempotency.complete(reservation.key_id, response.status_code, response.get_data(as_text=True))
        return response

    return wrapped
