"""The SQLite test database (tables from the models, role groups and views from the migrations' code; see
``django_db_setup`` in tests/conftest.py) is the database ``manage.py migrate`` makes: the same tables,
columns and indexes, and the same role groups with the same permissions."""

import sqlite3

import pytest
from django.contrib.auth.models import Group
from django.db import connection

from tests.helpers.migrated_sqlite import template

# The PostgreSQL pass runs the migrations.
pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]

#: Django's bookkeeping of applied migrations, which only ``migrate`` fills, and the database cache's table,
#: which ``migrate`` makes only where the database cache is configured (the tests use a local-memory cache).
NOT_COMPARED = {"django_migrations", "archive_cache"}


def schema(cursor) -> dict:
    tables = [
        name
        for (name,) in cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
        if name not in NOT_COMPARED
    ]
    found = {}
    for table in tables:
        columns = {
            (row[1], row[2].upper(), bool(row[3])) for row in cursor.execute(f'PRAGMA table_info("{table}")')
        }
        indexes = set()
        for row in list(cursor.execute(f'PRAGMA index_list("{table}")')):
            named = [col[2] for col in cursor.execute(f'PRAGMA index_info("{row[1]}")')]
            indexes.add((tuple(named), bool(row[2])))
        found[table] = {"columns": columns, "indexes": indexes}
    return found


def views(cursor) -> dict:
    return dict(cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'view' ORDER BY name"))


def test_the_tables_are_the_migrated_ones():
    with sqlite3.connect(template()) as migrated:
        expected = schema(migrated.cursor())
    with connection.cursor() as cursor:
        actual = schema(cursor.connection.cursor())
    assert actual == expected


def test_the_views_are_the_migrated_ones():
    with sqlite3.connect(template()) as migrated:
        expected = views(migrated.cursor())
    with connection.cursor() as cursor:
        actual = views(cursor.connection.cursor())
    assert actual == expected and "cases_casefacetkey" in actual


def test_the_role_groups_have_the_migrated_permissions():
    with sqlite3.connect(template()) as migrated:
        rows = migrated.execute(
            "SELECT g.name, ct.app_label, p.codename FROM auth_group g "
            "JOIN auth_group_permissions gp ON gp.group_id = g.id "
            "JOIN auth_permission p ON p.id = gp.permission_id "
            "JOIN django_content_type ct ON ct.id = p.content_type_id"
        ).fetchall()
        groups = {name for (name,) in migrated.execute("SELECT name FROM auth_group")}
    expected = {name: set() for name in groups}
    for name, app_label, codename in rows:
        expected[name].add((app_label, codename))
    actual = {
        group.name: set(group.permissions.values_list("content_type__app_label", "codename"))
        for group in Group.objects.all()
    }
    assert expected and actual == expected
