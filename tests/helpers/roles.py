"""The role groups and their permissions, as the data migrations make them, made again.

A transactional test (the browser tests) ends with a flush of every table; Django then makes the
permissions again but not the groups, which only data migrations make. So before each transactional
test, every data migration of ours that sets up groups is run again (each is idempotent).
"""

from functools import cache

from django.apps import apps
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import RunPython

PROJECT_APPS = {"cases", "imaging", "authoring", "quiz", "bundles", "weekly", "programme", "receiver"}


@cache
def role_migrations() -> tuple:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    codes = []
    for (app, _name), migration in sorted(loader.disk_migrations.items()):
        if app in PROJECT_APPS:
            codes += [
                op.code
                for op in migration.operations
                if isinstance(op, RunPython) and getattr(op.code, "grants_roles", False)
            ]
    return tuple(codes)


def roles_ensure() -> None:
    for code in role_migrations():
        code(apps, None)
