"""Apps depend one way: ``cases`` ← ``imaging`` ← ``authoring``, ``quiz`` ← ``bundles`` and the other apps
at the top; ``authoring`` and ``quiz`` stand side by side and import neither each other.

Every module of the apps below the top (commands, template tags and migrations included) is parsed,
and each import that names an app above it fails the test, naming the module and the import. A lower
app that must react to a higher one exposes a signal or a hook instead (``cases/extensions.py``).
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The apps at the top (bundles, weekly, programme, receiver) may import those below; nothing imports them.
TOP = {"bundles", "weekly", "programme", "receiver"}
ABOVE = {
    "cases": {"imaging", "authoring", "quiz"} | TOP,
    "imaging": {"authoring", "quiz"} | TOP,
    "authoring": {"quiz"} | TOP,
    "quiz": {"authoring"} | TOP,
}


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, dotted name) of every absolute import, wherever it stands (a function body included)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def upward_imports(app_dir: Path, forbidden: set[str]) -> list[str]:
    """Each import in a module under `app_dir` of an app in `forbidden`, as 'path:line imports name'."""
    violations = []
    for module in sorted(app_dir.rglob("*.py")):
        tree = ast.parse(module.read_text(encoding="utf-8"), filename=str(module))
        for line, name in imported_modules(tree):
            if name.split(".")[0] in forbidden:
                violations.append(f"{module.relative_to(app_dir.parent)}:{line} imports {name}")
    return violations


@pytest.mark.parametrize("app", sorted(ABOVE))
def test_no_module_imports_an_app_above_it(app):
    assert upward_imports(ROOT / app, ABOVE[app]) == []


def test_an_upward_import_is_named_with_its_module_and_line(tmp_path):
    app = tmp_path / "cases"
    (app / "management").mkdir(parents=True)
    (app / "models.py").write_text("from cases.modalities import MODALITY_CHOICES\n")
    (app / "management" / "load.py").write_text(
        "import os\n\n\ndef handle():\n    from imaging.demo import demo_images_ensure\n"
    )
    (app / "services.py").write_text("import authoring.rules\nfrom bundles import services\n")
    assert upward_imports(app, ABOVE["cases"]) == [
        "cases/management/load.py:5 imports imaging.demo",
        "cases/services.py:1 imports authoring.rules",
        "cases/services.py:2 imports bundles",
    ]
