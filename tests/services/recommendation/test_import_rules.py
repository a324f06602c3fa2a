"""The engine's arithmetic runs without an app: it imports neither Flask, SQLAlchemy, the models
nor the extensions, directly or through another module of ours."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = "app.services.recommendation"
ARITHMETIC = [
    "catalogue_arrays",
    "signals",
    "scoring",
    "ranking",
    "explanations",
    "filters",
    "similar",
    "item_model",
    "evaluation",
    "movielens",
    "rp3beta",
    "als",
    "sequence",
    "exposure",
    "tuning",
    "onboarding",
    "validation",
]
BANNED = ("flask", "flask_", "sqlalchemy", "app.models", "app.extensions", "app.errors")


def module_path(module: str) -> Path:
    base = ROOT.joinpath(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def imports_of(module: str) -> set[str]:
    tree = ast.parse(module_path(module).read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # `from app.services.recommendation import state` imports a module too.
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] != "app" or module_path(name).exists()}


def banned_imports(module: str) -> list[str]:
    """Banned modules reached from `module` through our own modules, as import chains."""
    chains: list[str] = []
    seen: set[str] = set()
    pending = [(module, [module])]
    while pending:
        current, chain = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        for name in sorted(imports_of(current)):
            if name == "flask" or name.startswith(BANNED):
                chains.append(" -> ".join([*chain, name]))
            elif name.startswith("app.") and name not in seen:
                pending.append((name, [*chain, name]))
    return chains


@pytest.mark.parametrize("name", ARITHMETIC)
def test_the_arithmetic_imports_no_flask_sqlalchemy_models_or_extensions(name: str) -> None:
    assert banned_imports(f"{PACKAGE}.{name}") == []


def test_the_rule_catches_a_banned_import_through_another_module() -> None:
    # The front door loads data: it must be caught, through the modules it imports.
    chains = banned_imports("app.services.recommender")
    assert any(chain.endswith("-> flask") for chain in chains)
    assert any("app.services.recommendation.loading -> app.models" in chain for chain in chains)


def test_every_module_of_the_package_is_classified() -> None:
    """A new module must be listed as arithmetic here, or knowingly left out of the rule."""
    loaders = {
        "__init__",
        "loading",
        "state",
        "batches",
        "shown",
        "feedback",
        "staleness",
        "model_versions",
        "history",
    }
    loaders.add("movielens_import")
    modules = {path.stem for path in module_path(PACKAGE).parent.glob("*.py")}
    assert modules == set(ARITHMETIC) | loaders
