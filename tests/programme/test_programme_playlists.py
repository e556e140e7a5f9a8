"""Playlists: visibility and unguessable addresses, the list with counts, study case by case, a quiz
session in the playlist's order or shuffled (no note before the answer), and editing in the admin."""

import json
import re

import pytest
from django.test import Client

from cases.models import Case
from programme import services
from programme.models import SLUG_TOKEN_LENGTH, Playlist, PlaylistItem
from tests.helpers.accounts import make_user
from tests.helpers.authoring import form_data

pytestmark = pytest.mark.django_db

NOTE = "Look at the posterior elements first"


@pytest.fixture
def playlist_of(make_case, faculty):
    def factory(
        *, visibility=Playlist.Visibility.PUBLIC, count=3, title="Spine unknowns", owner=None, cases=None
    ):
        playlist = services.playlist_create(title=title, owner=owner or faculty, visibility=visibility)
        for case in cases if cases is not None else [make_case() for _ in range(count)]:
            services.playlist_add_case(playlist=playlist, case=case, note=f"{NOTE} of {case.slug}")
        return playlist

    return factory


def test_addresses_are_unguessable_and_do_not_follow_the_title(playlist_of):
    first = playlist_of(title="Spine unknowns", count=0)
    second = playlist_of(title="Spine unknowns", count=0)
    assert first.slug != second.slug
    for playlist in (first, second):
        prefix, token = playlist.slug.rsplit("-", 1)
        assert prefix == "spine-unknowns" and len(token) == SLUG_TOKEN_LENGTH
    first.title = "Renamed"
    first.save()
    first.refresh_from_db()
    assert first.slug.startswith("spine-unknowns-")


def test_the_list_shows_public_playlists_with_their_published_case_counts(client, playlist_of, make_case):
    public = playlist_of(title="Public one", count=2)
    services.playlist_add_case(playlist=public, case=make_case())
    Case.objects.filter(pk=public.items.first().case_id).update(status=Case.Status.DRAFT)
    playlist_of(title="Unlisted one", visibility=Playlist.Visibility.UNLISTED)
    playlist_of(title="Private one", visibility=Playlist.Visibility.PRIVATE)
    page = client.get("/playlists/").content.decode()
    assert "Public one" in page and "Unlisted one" not in page and "Private one" not in page
    assert re.search(r"Public one</a></td><td[^>]*>2</td>", page)


@pytest.mark.parametrize(
    ("visibility", "statuses"),
    [("public", (200, 200, 200, 200)), ("unlisted", (200, 200, 200, 200)), ("private", (404, 404, 200, 200))],
)
def test_who_sees_a_playlist(playlist_of, faculty, editor, visibility, statuses):
    playlist = playlist_of(visibility=visibility)
    clients = {"anon": Client(), "other_resident": Client(), "owner": Client(), "editor": Client()}
    clients["other_resident"].force_login(make_user("someone", "resident"))
    clients["owner"].force_login(faculty)
    clients["editor"].force_login(editor)
    for (role, client), expected in zip(clients.items(), statuses, strict=True):
        assert client.get(f"/playlists/{playlist.slug}/").status_code == expected, role


def test_the_page_lists_only_published_cases_and_no_note(client, playlist_of, make_case):
    draft = make_case(status=Case.Status.DRAFT, title="Secret draft title")
    playlist = playlist_of(count=2)
    PlaylistItem.objects.create(playlist=playlist, case=draft, order=99)
    page = client.get(playlist.get_absolute_url()).content.decode()
    assert "2 cases" in page
    assert "Secret draft title" not in page and draft.slug not in page
    assert NOTE not in page


def test_study_case_by_case_with_notes(client, playlist_of):
    playlist = playlist_of(count=2)
    first, second = [item.case for item in playlist.items.order_by("order")]
    page = client.get(f"/playlists/{playlist.slug}/study/1/").content.decode()
    assert first.title in page and f"{NOTE} of {first.slug}" in page and "Case 1 of 2" in page
    assert f"/playlists/{playlist.slug}/study/2/" in page
    page = client.get(f"/playlists/{playlist.slug}/study/2/").content.decode()
    assert second.title in page and "Case 2 of 2" in page
    assert client.get(f"/playlists/{playlist.slug}/study/3/").status_code == 404
    assert client.get(f"/playlists/{playlist.slug}/study/0/").status_code == 404


def quiz_case_ids(client: Client, response) -> list[int]:
    assert response.status_code == 302
    session_id = response["Location"].split("/")[3]
    return client.session["quiz_sessions"][session_id]["case_ids"]


def test_a_quiz_in_the_playlists_order_then_shuffled(client, playlist_of, make_case):
    playlist = playlist_of(count=6)
    item = playlist.items.get(order=2)
    item.order = 10  # moved to the end
    item.save()
    draft = make_case(status=Case.Status.DRAFT)
    PlaylistItem.objects.create(playlist=playlist, case=draft, order=3)
    in_order = list(playlist.items.exclude(case=draft).order_by("order").values_list("case_id", flat=True))
    url = f"/playlists/{playlist.slug}/quiz/"
    assert quiz_case_ids(client, client.post(url, {"order": "playlist"})) == in_order
    shuffled = [quiz_case_ids(client, client.post(url, {"order": "shuffled"})) for _ in range(5)]
    assert all(sorted(ids) == sorted(in_order) for ids in shuffled)
    assert any(ids != in_order for ids in shuffled)  # 5 shuffles of 6 cases all in order: 1 in 10^14
    assert client.post(url, {"order": "sideways"}).status_code == 400


def test_quiz_mode_shows_no_note_before_the_answer(client, playlist_of):
    playlist = playlist_of(count=1)
    case = playlist.items.get().case
    response = client.post(f"/playlists/{playlist.slug}/quiz/", {"order": "playlist"})
    quiz_url = client.get(response["Location"])["Location"]
    assert quiz_url.startswith(f"/cases/{case.slug}/quiz/")
    page = client.get(quiz_url).content.decode()
    assert NOTE not in page


def test_a_private_playlist_cannot_be_started_as_a_quiz_by_others(client, playlist_of):
    playlist = playlist_of(visibility=Playlist.Visibility.PRIVATE)
    assert client.post(f"/playlists/{playlist.slug}/quiz/", {"order": "playlist"}).status_code == 404


def test_only_published_cases_can_be_added():
    with pytest.raises(ValueError):
        services.playlist_add_case(
            playlist=Playlist(title="x"), case=Case(status=Case.Status.DRAFT, title="draft")
        )


# -- The admin -------------------------------------------------------------------------------------------


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_faculty_make_a_playlist_in_the_admin_with_ordered_cases(faculty, make_case):
    first, second = make_case(), make_case()
    client = admin_client(faculty)
    data = {
        "title": "Sacral lesions",
        "visibility": "unlisted",
        "introduction": "Five lesions of the sacrum.",
        "items-TOTAL_FORMS": "2",
        "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "1000",
        "items-0-order": "2",
        "items-0-case": str(first.pk),
        "items-0-note": "Second",
        "items-1-order": "1",
        "items-1-case": str(second.pk),
        "items-1-note": "First",
    }
    response = client.post("/admin/programme/playlist/add/", data)
    assert response.status_code == 302, response.context["errors"] if response.context else response
    playlist = Playlist.objects.get(title="Sacral lesions")
    assert playlist.owner == faculty and len(playlist.slug.rsplit("-", 1)[1]) == SLUG_TOKEN_LENGTH
    assert list(playlist.items.values_list("case_id", "order")) == [(second.pk, 1), (first.pk, 2)]


def test_the_admin_page_carries_the_drag_script(faculty, playlist_of):
    playlist = playlist_of()
    page = admin_client(faculty).get(f"/admin/programme/playlist/{playlist.pk}/change/").content.decode()
    assert "programme/playlist_order.js" in page


def test_autocomplete_offers_published_cases_only(faculty, make_case):
    published = make_case(title="Offered published case")
    draft = make_case(title="Own draft case", status=Case.Status.DRAFT, author=faculty)
    response = admin_client(faculty).get(
        "/admin/autocomplete/",
        {"term": "case", "app_label": "programme", "model_name": "playlistitem", "field_name": "case"},
    )
    assert response.status_code == 200
    ids = {int(result["id"]) for result in json.loads(response.content)["results"]}
    assert published.pk in ids and draft.pk not in ids


def test_a_playlist_with_a_case_unpublished_since_can_still_be_edited(faculty, playlist_of):
    playlist = playlist_of(count=2)
    gone = playlist.items.order_by("order").first().case
    Case.objects.filter(pk=gone.pk).update(status=Case.Status.DRAFT)
    client = admin_client(faculty)
    url = f"/admin/programme/playlist/{playlist.pk}/change/"
    page = client.get(url)
    body = page.content.decode()
    assert gone.title not in body and "A case no longer published" in body
    data = form_data(page)
    data["title"] = "Renamed playlist"
    response = client.post(url, data)
    assert response.status_code == 302, response.context["inline_admin_formsets"][0].formset.errors
    assert playlist.items.filter(case=gone).exists()
    assert Playlist.objects.get(pk=playlist.pk).title == "Renamed playlist"


def test_a_new_row_cannot_name_an_unpublished_case(faculty, playlist_of, make_case):
    playlist = playlist_of(count=1)
    draft = make_case(status=Case.Status.DRAFT, author=faculty)
    client = admin_client(faculty)
    url = f"/admin/programme/playlist/{playlist.pk}/change/"
    data = form_data(client.get(url))
    data.update({"items-1-order": "5", "items-1-case": str(draft.pk), "items-1-note": ""})
    data["items-TOTAL_FORMS"] = "2"
    response = client.post(url, data)
    assert response.status_code == 200
    assert not playlist.items.filter(case=draft).exists()


def test_faculty_see_their_own_playlists_editors_and_directors_all(
    faculty, other_faculty, editor, playlist_of
):
    own = playlist_of(title="Own list", visibility=Playlist.Visibility.PRIVATE)
    other = playlist_of(title="Colleague list", visibility=Playlist.Visibility.PRIVATE, owner=other_faculty)
    director = make_user("dir", "director", is_staff=True)
    page = admin_client(faculty).get("/admin/programme/playlist/").content.decode()
    assert "Own list" in page and "Colleague list" not in page
    assert admin_client(faculty).get(f"/admin/programme/playlist/{other.pk}/change/").status_code == 302
    for user in (editor, director):
        page = admin_client(user).get("/admin/programme/playlist/").content.decode()
        assert "Own list" in page and "Colleague list" in page
    # Directors read playlists (to assign them); they do not change them.
    page = admin_client(director).get(f"/admin/programme/playlist/{own.pk}/change/").content.decode()
    assert 'name="title"' not in page
