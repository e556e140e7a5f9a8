"""Guarded versions of two admin pages that check less than the archive needs (see config/urls.py)."""

from django.contrib import admin, messages
from django.contrib.contenttypes.models import ContentType
from django.contrib.contenttypes.views import shortcut
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from taggit.forms import MergeTagsForm
from taggit.models import Tag

from cases.tags import tags_merge


def view_on_site(request, content_type_id, object_id):
    """The admin's "View on site" redirect, only for an object the user may see in its admin.

    Django's own (``contenttypes.views.shortcut``) redirects any staff member to any object's page, so it
    would name the slug of a draft to someone who may not see it; here such an object answers 404.
    """
    try:
        model = ContentType.objects.get_for_id(int(content_type_id)).model_class()
    except (ValueError, ContentType.DoesNotExist) as error:
        raise Http404("No such object.") from error
    model_admin = admin.site.get_model_admin(model) if model and admin.site.is_registered(model) else None
    obj = model_admin.get_object(request, object_id) if model_admin is not None else None
    if obj is None or not model_admin.has_view_or_change_permission(request, obj):
        raise Http404("No such object.")
    return shortcut(request, content_type_id, object_id)


def tag_merge(request):
    """django-taggit's "merge tags" page checks no permission of its own (any staff member could merge
    or create tags) and fails with a 500 when no tags were selected first. Here it needs the right to
    change and delete tags, and a selection made through the list's action. Its merge moves only
    taggit's generic items, not the archive's case tags, so the merge itself is ``cases.tags``'s."""
    if not (request.user.has_perm("taggit.change_tag") and request.user.has_perm("taggit.delete_tag")):
        raise PermissionDenied
    selected = request.session.get("selected_tag_ids", "").split(",")
    if not all(pk.isdigit() for pk in selected) or not Tag.objects.filter(pk__in=selected).exists():
        return redirect("admin:taggit_tag_changelist")
    form = MergeTagsForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        into = tags_merge(tag_ids=[int(pk) for pk in selected], new_name=form.cleaned_data["new_tag_name"])
        request.session.pop("selected_tag_ids", None)
        messages.success(
            request, f"Tags merged into “{into.name}”; the cases that carried them carry it now."
        )
        return redirect("admin:taggit_tag_changelist")
    # taggit's own form page (its template), with any error shown.
    return render(request, "admin/taggit/merge_tags_form.html", {"form": form, "selected_tag_ids": selected})
