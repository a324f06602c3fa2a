"""The suite's own rule: a test module never imports another test module. Shared helpers
live in `tests/helpers.py` (and a few helper modules beside it), fixtures in `conftest.py`."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def imported_modules(tree: ast.Module) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.ImportFrom):  # `from . import test_x`, `from .. import x`
            names += [alias.name for alias in node.names]
    return names


def is_test_module_or_conftest(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return last.startswith("test_") or last == "conftest"


def test_no_test_module_imports_another_test_module_or_a_conftest() -> None:
    offenders = []
    for path in sorted(TESTS.rglob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for name in imported_modules(tree):
            if is_test_module_or_conftest(name):
                offenders.append(f"{path.relative_to(TESTS.parent)} imports {name}")
    assert offenders == []


def test_the_check_sees_every_form_of_import() -> None:
    for source in (
        "import tests.blueprints.test_favorites",
        "from tests.blueprints.test_favorites import count_rows",
        "from tests.blueprints import test_favorites",
        "from . import test_favorites",
        "from .test_favorites import count_rows",
        "from tests.admin.conftest import sign_in",
    ):
        names = imported_modules(ast.parse(source))
        assert any(is_test_module_or_conftest(name) for name in names), source
    for source in ("from tests.helpers import assert_problem", "import pytest"):
        names = imported_modules(ast.parse(source))
        assert not any(is_test_module_or_conftest(name) for name in names), source
