"""Playlists in Chromium: a faculty member reorders a playlist's cases by dragging a row in the admin
(``static/programme/playlist_order.js`` renumbers the order fields), and the saved order is the new one."""

from importlib import import_module

import pytest
from django.contrib.auth.models import Group, Permission
from playwright.sync_api import expect

from programme import services
from programme.models import PlaylistItem
from tests.conftest import make_user

pytestmark = pytest.mark.django_db(transaction=True)


def ensure_roles() -> None:
    """The role groups come from data migrations, which a transactional test before this one flushed."""
    for app_label in ["cases", "programme"]:
        for role, codenames in import_module(f"{app_label}.migrations.0002_roles").ROLES.items():
            group, _ = Group.objects.get_or_create(name=role)
            group.permissions.add(
                *Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
            )


def test_dragging_a_row_reorders_the_playlist(page, live_server, make_case, screenshot):
    ensure_roles()
    faculty = make_user("browser-faculty", "faculty", is_staff=True)
    playlist = services.playlist_create(title="Drag me", owner=faculty)
    cases = [make_case(title=f"Adult number {n}") for n in range(1, 4)]
    for case in cases:
        services.playlist_add_case(playlist=playlist, case=case)
    page.goto(f"{live_server.url}/admin/login/?next=/admin/programme/playlist/{playlist.pk}/change/")
    page.fill("#id_username", "browser-faculty")
    page.fill("#id_password", "pw-for-tests-only")
    page.get_by_role("button", name="Log in").click()
    rows = page.locator(".playlist-items tr.has_original")
    expect(rows).to_have_count(3)
    rows.nth(2).drag_to(rows.nth(0), target_position={"x": 10, "y": 2})
    orders = page.locator(".playlist-items input[name$='-order']")
    expect(orders.nth(0)).to_have_value("1")
    screenshot("dragged")
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist")).to_contain_text("changed successfully")
    saved = list(
        PlaylistItem.objects.filter(playlist=playlist).order_by("order").values_list("case_id", flat=True)
    )
    assert saved == [cases[2].pk, cases[0].pk, cases[1].pk]
