"""Log-in throttling (django-axes): per account and per address, a clear page for whoever is locked
out, the lock-outs in the admin, and the client's address taken from a trusted proxy's header."""

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.conf import settings as live_settings

from config.settings import trusted_proxy_settings
from tests.helpers.settings import run_settings

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
PASSWORD = "pw-for-tests-only"  # tests.conftest.make_user's
HOME = "127.0.0.1"  # the test client's REMOTE_ADDR
ELSEWHERE = "192.0.2.44"
LOCKED = "Log-in locked for a while"


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    """Each failure hashes a password (PBKDF2: about half a second here, dozens per test); the throttling
    does not depend on the hasher. Autouse, so it is in place before the users are created."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def log_in(client, username: str, password: str, address: str = HOME, **headers):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address, **headers)


def fail(client, username: str, times: int, address: str = HOME, **headers):
    return [log_in(client, username, "wrong", address, **headers) for _ in range(times)]


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_the_limit_is_five_failures_and_fifteen_minutes_by_default():
    assert live_settings.AXES_FAILURE_LIMIT == 5
    assert live_settings.AXES_COOLOFF_TIME.total_seconds() == 15 * 60
    assert live_settings.AXES_LOCKOUT_PARAMETERS == ["username", "ip_address"]


def test_failures_below_the_limit_just_say_the_password_was_wrong(client, resident):
    responses = fail(client, "res", live_settings.AXES_FAILURE_LIMIT - 1)
    assert all(response.status_code == 200 for response in responses)
    assert all("Please enter a correct username and password" in r.content.decode() for r in responses)
    assert log_in(client, "res", PASSWORD).status_code == 302 and logged_in(client)


def test_the_nth_failure_locks_the_account_out_with_a_clear_page(client, resident):
    *before, last = fail(client, "res", live_settings.AXES_FAILURE_LIMIT)
    assert all(LOCKED not in response.content.decode() for response in before)
    assert last.status_code == 429
    page = last.content.decode()
    assert LOCKED in page
    assert "as <strong>res</strong>" in page
    assert "Try again in 15 minutes" in page
    assert "ask the archive&#x27;s administrator" in page or "ask the archive's administrator" in page
    assert AccessFailureLog.objects.filter(username="res", locked_out=True).count() == 1


def test_a_right_password_is_refused_while_locked_out(client, resident):
    fail(client, "res", live_settings.AXES_FAILURE_LIMIT)
    response = log_in(client, "res", PASSWORD)
    assert response.status_code == 429 and LOCKED in response.content.decode()
    assert not logged_in(client)
    # The admin's log-in form is throttled by the same lock.
    response = client.post("/admin/login/", {"username": "res", "password": PASSWORD})
    assert response.status_code == 429 and not logged_in(client)


def test_the_account_stays_locked_from_another_address(client, resident):
    fail(client, "res", live_settings.AXES_FAILURE_LIMIT)
    response = log_in(client, "res", PASSWORD, address=ELSEWHERE)
    assert response.status_code == 429 and not logged_in(client)


def test_the_address_is_locked_for_every_username(client, resident, faculty):
    # Guesses at names that are not even accounts still count against the address.
    for n in range(live_settings.AXES_FAILURE_LIMIT):
        log_in(client, f"guess-{n}", "wrong")
    response = log_in(client, "fac", PASSWORD)
    assert response.status_code == 429 and not logged_in(client)
    # The lock is the address's, not everyone's: the same account from elsewhere gets in.
    assert log_in(client, "fac", PASSWORD, address=ELSEWHERE).status_code == 302 and logged_in(client)


def test_a_success_does_not_clear_the_failures_of_the_address(client, resident, faculty):
    fail(client, "res", live_settings.AXES_FAILURE_LIMIT - 1)
    assert log_in(client, "fac", PASSWORD).status_code == 302
    client.logout()
    assert log_in(client, "res", "wrong").status_code == 429


def test_an_overlong_username_is_a_failure_like_any_other(client, resident):
    """Django's forms pass it on whole; axes' username column holds 255 characters (on PostgreSQL a
    longer value was a server error)."""
    long_name = "x" * 10_000
    responses = fail(client, long_name, live_settings.AXES_FAILURE_LIMIT)
    assert [response.status_code for response in responses] == [200] * (len(responses) - 1) + [429]
    assert AccessAttempt.objects.get().username == long_name[:255]
    assert log_in(client, "res", PASSWORD).status_code == 429  # the address is locked


def test_the_admin_lists_the_lock_out(client, resident, admin_user):
    fail(client, "res", live_settings.AXES_FAILURE_LIMIT, address=ELSEWHERE)
    client.force_login(admin_user)
    listing = client.get("/admin/axes/accessattempt/?locked_out=yes").content.decode()
    assert "res" in listing and ELSEWHERE in listing and "Locked Out" in listing
    failures = client.get("/admin/axes/accessfailurelog/").content.decode()
    assert failures.count(ELSEWHERE) >= live_settings.AXES_FAILURE_LIMIT
    # Lifting the lock is deleting the attempt in the admin.
    attempt = AccessAttempt.objects.get(username="res")
    client.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    client.logout()
    assert log_in(client, "res", PASSWORD, address=ELSEWHERE).status_code == 302


# -- The client's address --------------------------------------------------------------------------------

PROXY = "10.0.0.1"
CLIENT = "198.51.100.7"


def recorded_address(client, **headers) -> str:
    AccessAttempt.objects.all().delete()
    log_in(client, "res", "wrong", address=PROXY, **headers)
    return AccessAttempt.objects.get().ip_address


def trust_proxies(settings, count: int) -> None:
    order, count = trusted_proxy_settings(count)
    settings.AXES_IPWARE_META_PRECEDENCE_ORDER, settings.AXES_IPWARE_PROXY_COUNT = order, count


def test_without_a_trusted_proxy_the_forwarded_header_is_ignored(client, resident):
    assert live_settings.TRUSTED_PROXY_COUNT == 0
    # Anyone can send the header; only the socket's address can be believed.
    assert recorded_address(client, HTTP_X_FORWARDED_FOR=CLIENT) == PROXY


def test_behind_one_trusted_proxy_the_client_address_is_recorded(client, resident, settings):
    trust_proxies(settings, 1)
    assert recorded_address(client, HTTP_X_FORWARDED_FOR=CLIENT) == CLIENT
    # A header the client sent itself is extended by the proxy: its right end is still the proxy's.
    assert recorded_address(client, HTTP_X_FORWARDED_FOR=f"203.0.113.66, {CLIENT}") == CLIENT
    # A request without the header (not through the proxy) counts against the address it came from.
    assert recorded_address(client) == PROXY


def test_behind_two_trusted_proxies_the_outer_one_s_client_is_recorded(client, resident, settings):
    trust_proxies(settings, 2)
    outer_proxy = "10.0.0.9"
    forwarded = f"203.0.113.66, {CLIENT}, {outer_proxy}"
    assert recorded_address(client, HTTP_X_FORWARDED_FOR=forwarded) == CLIENT


def test_lock_outs_behind_a_proxy_are_per_client_not_the_proxy_s(client, resident, faculty, settings):
    trust_proxies(settings, 1)
    fail(client, "nobody", live_settings.AXES_FAILURE_LIMIT, address=PROXY, HTTP_X_FORWARDED_FOR=CLIENT)
    refused = log_in(client, "fac", PASSWORD, address=PROXY, HTTP_X_FORWARDED_FOR=CLIENT)
    assert refused.status_code == 429
    other = log_in(client, "fac", PASSWORD, address=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.8")
    assert other.status_code == 302 and logged_in(client)


def test_the_proxy_count_comes_from_the_environment():
    code = "print(settings.AXES_IPWARE_META_PRECEDENCE_ORDER, settings.AXES_IPWARE_PROXY_COUNT)"
    assert run_settings({}, code).stdout.strip() == "('REMOTE_ADDR',) None"
    result = run_settings({"TRUSTED_PROXY_COUNT": "1"}, code)
    assert result.stdout.strip() == "('HTTP_X_FORWARDED_FOR', 'REMOTE_ADDR') 0"
    for wrong in ["one", "-1"]:
        result = run_settings({"TRUSTED_PROXY_COUNT": wrong}, code)
        assert result.returncode != 0 and "TRUSTED_PROXY_COUNT must be" in result.stderr
