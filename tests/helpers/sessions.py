"""Sessions made once for a module's world, presented by each test as a cookie.

A log-in writes a session, axes' access log and the user's last_login: done for every one of a matrix's
thousands of cells it was a fifth of their time. A session made with the world lives as long as the world;
what a test does to it (log out, quiz state) is rolled back with the test.
"""

from django.conf import settings
from django.test import Client


def sessions_for(users: dict) -> dict:
    """The session key of a fresh log-in for each user, by the same keys."""
    keys = {}
    for name, user in users.items():
        client = Client()
        client.force_login(user)
        keys[name] = client.cookies[settings.SESSION_COOKIE_NAME].value
    return keys


def client_as(session_key: str | None, client: Client | None = None) -> Client:
    """A client carrying that session (anonymous for None)."""
    client = client or Client()
    if session_key:
        client.cookies[settings.SESSION_COOKIE_NAME] = session_key
    return client
