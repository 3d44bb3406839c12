"""Secrets that travel (login sessions, API tokens, invitation links) are stored only as their SHA-256."""
import hashlib


def hash_token(token: str) -> str:
    """The stored form of a secret token: a database leak reveals no usable token."""
    return hashlib.sha256(token.encode()).hexdigest()
