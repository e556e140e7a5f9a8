"""Shared fixtures: role users, the seed archive and a small case factory."""

import itertools
from contextlib import nullcontext

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from cases.models import Case, Diagnosis, DifferentialItem, Finding, Region
from cases.seed import read_seed, seed_load
from cases.upkeep import case_upkeep_deferred
from tests.helpers.accounts import make_user
from tests.helpers.facets import facet_key_view_create
from tests.helpers.leaks import seeded_with_images, tempting_case  # noqa: F401 (fixtures shared by several modules)
from tests.helpers.roles import roles_ensure


def pytest_configure(config):
    """Tests run in one process: every task at once, in the test's own process (the immediate backend),
    and a local-memory cache. The tests of the queue itself start real workers on a database of their
    own (tests/imaging/test_upload_queue_worker.py).

    A fast password hasher for the whole run, not per test: hashing at production strength (PBKDF2,
    about half a second a password here) would otherwise also run for every user that a module- or
    session-wide fixture makes before any test's settings apply. Likewise a short back-off between the
    attempts at an unreachable DICOMweb source."""
    from django.test.utils import override_settings

    # override_settings, not assignment: the task backends and caches made at start-up are dropped.
    override_settings(
        TASKS={"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}},
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tests"}},
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        # A DICOMweb source that is down is still asked 5 times, without 30 s of back-off in between.
        RECEIVER_PULL_RETRY_SECONDS=0.01,
    ).enable()


@pytest.fixture(scope="session")
def django_db_setup(request, django_test_environment, django_db_blocker, django_db_modify_db_settings):
    """The test databases, as pytest-django makes them, except that on SQLite the tables come straight
    from the models, the role groups and the facet keys' view from our migrations' own code (run once
    more): seconds less per worker than running every migration. On SQLite every other migration only
    changes the schema, which the models describe as well (`makemigrations --check` is clean); the
    PostgreSQL pass, whose migrations also run SQL of their own, migrates as before.
    tests/site/test_test_database.py compares the result with a migrated database."""
    from django.apps import apps as project_apps
    from django.test.utils import override_settings, setup_databases, teardown_databases

    sqlite = connection.vendor == "sqlite"
    schema_only = {app.label: None for app in project_apps.get_app_configs()} if sqlite else None
    serialized = {
        "default"
        for item in request.session.items
        for marker in item.iter_markers("django_db")
        if marker.kwargs.get("serialized_rollback")
    }
    with django_db_blocker.unblock():
        with override_settings(MIGRATION_MODULES=schema_only) if sqlite else nullcontext():
            config = setup_databases(
                verbosity=request.config.option.verbose, interactive=False, serialized_aliases=serialized
            )
        if sqlite:
            roles_ensure()
            facet_key_view_create()
    yield
    with django_db_blocker.unblock():
        teardown_databases(config, verbosity=request.config.option.verbose)


def _transactional(item) -> bool:
    marker = item.get_closest_marker("django_db")
    fixtures = getattr(item, "fixturenames", ())
    return bool(marker and marker.kwargs.get("transaction")) or "live_server" in fixtures


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Transactional tests run last; PostgreSQL-only tests are deselected (not skipped) on SQLite, and
    SQLite-only tests in the PostgreSQL pass.

    pytest-django puts transactional tests last, but pytest's own grouping of parametrized fixtures
    runs after it and can move browser tests before others: their flush would then leave the tests
    after them without the role groups the migrations created. So the order is enforced once more here.
    """
    items.sort(key=_transactional)  # stable: otherwise the order stays
    other = "sqlite" if connection.vendor == "postgresql" else "postgres"
    selected, deselected = [], []
    for item in items:
        (deselected if item.get_closest_marker(other) else selected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


@pytest.fixture(autouse=True)
def roles_after_a_flush(request):
    """Transactional tests start with the role groups, whatever a flush before them removed."""
    if _transactional(request.node):
        request.getfixturevalue("transactional_db")
        roles_ensure()


@pytest.fixture
def resident(db):
    return make_user("res", "resident")


@pytest.fixture
def faculty(db):
    return make_user("fac", "faculty", is_staff=True)


@pytest.fixture
def other_faculty(db):
    return make_user("fac2", "faculty", is_staff=True)


@pytest.fixture
def editor(db):
    return make_user("edi", "editor", is_staff=True)


@pytest.fixture
def admin_user(db):
    return get_user_model().objects.create_superuser("root", "root@example.org", "pw-for-tests-only")


@pytest.fixture
def seeded(db):
    return seed_load(data=read_seed())


_counter = itertools.count(1)


@pytest.fixture
def make_case(db):
    """Create a case with findings; keyword arguments override the defaults."""

    def factory(*, findings=("MR",), regions=(), tags=(), differential=(), **fields):
        n = next(_counter)
        fields.setdefault("slug", f"case-{n}")
        fields.setdefault("title", f"Test case {n}")
        fields.setdefault("status", Case.Status.PUBLISHED)
        if fields["status"] == Case.Status.PUBLISHED:
            fields.setdefault("published_at", timezone.now())
        with case_upkeep_deferred():  # search document and facet sets written once, when the case is whole
            case = Case.objects.create(**fields)
            for order, modality in enumerate(findings, start=1):
                Finding.objects.create(case=case, modality=modality, text=f"Finding {order}", order=order)
            for order, diagnosis in enumerate(differential, start=1):
                DifferentialItem.objects.create(case=case, diagnosis=diagnosis, order=order)
            case.regions.set(regions)
            case.tags.set(list(tags))
        return case

    return factory


@pytest.fixture
def region_tree(db):
    spine = Region.objects.create(name="Spine", slug="spine", order=1)
    sacrum = Region.objects.create(name="Sacrum", slug="sacrum", parent=spine, order=2)
    lumbar = Region.objects.create(name="Lumbar spine", slug="lumbar-spine", parent=spine, order=1)
    chest = Region.objects.create(name="Chest", slug="chest", order=2)
    return {"spine": spine, "sacrum": sacrum, "lumbar": lumbar, "chest": chest}


@pytest.fixture
def diagnosis(db):
    def factory(name: str, **fields):
        return Diagnosis.objects.create(
            name=name, slug=fields.pop("slug", name.lower().replace(" ", "-")), **fields
        )

    return factory


@pytest.fixture(autouse=True)
def empty_cache():
    """Every test starts with an empty cache: cached page parts of one test never answer another's."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Every test stores files in its own folder, so leftovers (orphans) can be counted."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def quarantine_root(settings, tmp_path):
    """Originals of every test's uploads wait in a quarantine folder of the test's own."""
    location = tmp_path / "quarantine"
    settings.STORAGES = {
        **settings.STORAGES,
        "quarantine": {**settings.STORAGES["quarantine"], "OPTIONS": {"location": location}},
    }
    return location
