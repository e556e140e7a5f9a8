"""Tags from the admin: merging moves the cases' tags, and renames, merges and deletions reach search."""

import re

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from taggit.models import Tag

from cases.models import Case, TaggedCase
from cases.tags import tags_merge

pytestmark = pytest.mark.django_db


def found(client, q: str) -> list[str]:
    html = client.get("/cases/", {"q": q}).content.decode()
    return re.findall(r'<h3><a href="/cases/([^/]+)/">', html[html.index('class="results"') :])


def tag_names(case: Case) -> list[str]:
    return sorted(Case.objects.get(pk=case.pk).tags.names())


@pytest.fixture
def tagged(make_case):
    return {
        "one": make_case(slug="one", tags=["vertebral haemangioma"]),
        "both": make_case(slug="both", tags=["vertebral haemangioma", "vertebral hemangioma"]),
        "other": make_case(slug="other", tags=["vertebral hemangioma", "pitfall"]),
        "into": make_case(slug="into", tags=["spine haemangioma", "vertebral haemangioma"]),
    }


def test_merging_moves_every_case_onto_the_tag_and_deletes_the_others(tagged):
    merged = Tag.objects.filter(name__in=["vertebral haemangioma", "vertebral hemangioma"])
    into = tags_merge(tag_ids=merged.values_list("pk", flat=True), new_name="spine haemangioma")
    assert into.name == "spine haemangioma"
    assert tag_names(tagged["one"]) == ["spine haemangioma"]
    assert tag_names(tagged["both"]) == ["spine haemangioma"]  # one tag, not two
    assert tag_names(tagged["other"]) == ["pitfall", "spine haemangioma"]
    assert tag_names(tagged["into"]) == ["spine haemangioma"]
    assert sorted(Tag.objects.values_list("name", flat=True)) == ["pitfall", "spine haemangioma"]
    assert TaggedCase.objects.filter(tag=into).count() == 4


def test_merging_into_a_new_name_makes_that_tag(tagged):
    merged = Tag.objects.filter(name="pitfall")
    tags_merge(tag_ids=merged.values_list("pk", flat=True), new_name="diagnostic pitfall")
    assert tag_names(tagged["other"]) == ["diagnostic pitfall", "vertebral hemangioma"]
    assert not Tag.objects.filter(name="pitfall").exists()


def test_the_admin_merge_page_merges_case_tags_and_search_follows(client, admin_user, tagged):
    client.force_login(admin_user)
    assert found(client, "vertebral") == sorted(
        found(client, "vertebral"), key=found(client, "vertebral").index
    )
    selected = Tag.objects.filter(name__in=["vertebral haemangioma", "vertebral hemangioma"])
    response = client.post(
        "/admin/taggit/tag/",
        {
            "action": "render_tag_form",
            ACTION_CHECKBOX_NAME: [str(pk) for pk in selected.values_list("pk", flat=True)],
        },
    )
    assert response.status_code == 302 and response["Location"].endswith("merge-tags/")
    page = client.get("/admin/taggit/tag/merge-tags/")
    assert page.status_code == 200 and 'name="new_tag_name"' in page.content.decode()
    response = client.post("/admin/taggit/tag/merge-tags/", {"new_tag_name": "osseous angioma"}, follow=True)
    assert "Tags merged into “osseous angioma”" in response.content.decode()
    assert tag_names(tagged["both"]) == ["osseous angioma"]
    client.logout()
    assert sorted(found(client, "osseous angioma")) == ["both", "into", "one", "other"]
    assert found(client, "vertebral") == []


def test_the_admin_merge_page_without_a_name_shows_the_error_and_changes_nothing(client, admin_user, tagged):
    client.force_login(admin_user)
    session = client.session
    session["selected_tag_ids"] = str(Tag.objects.get(name="pitfall").pk)
    session.save()
    before = sorted(TaggedCase.objects.values_list("tag_id", "content_object_id"))
    response = client.post("/admin/taggit/tag/merge-tags/", {"new_tag_name": ""})
    assert response.status_code == 200 and "This field is required" in response.content.decode()
    assert sorted(TaggedCase.objects.values_list("tag_id", "content_object_id")) == before


def test_renaming_a_tag_in_the_admin_reaches_search(client, admin_user, tagged):
    assert found(client, "pitfall") == ["other"]
    tag = Tag.objects.get(name="pitfall")
    client.force_login(admin_user)
    url = f"/admin/taggit/tag/{tag.pk}/change/"
    hidden = dict(
        re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', client.get(url).content.decode())
    )
    response = client.post(url, {**hidden, "name": "classic trap", "slug": "classic-trap"})
    assert response.status_code == 302
    client.logout()
    assert found(client, "classic trap") == ["other"]
    assert found(client, "pitfall") == []


def test_deleting_a_tag_reaches_search(client, tagged):
    assert found(client, "pitfall") == ["other"]
    Tag.objects.get(name="pitfall").delete()
    assert found(client, "pitfall") == []
    assert tag_names(tagged["other"]) == ["vertebral hemangioma"]
