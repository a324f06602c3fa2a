"""Where a web worker's memory goes before its first request (`python -m benchmarks.import_memory`).

Imports the app's heavy dependencies one at a time in a fresh interpreter, then the app and
create_app() (built as gunicorn.conf.py builds it for the workers), and prints what each step
added to the resident memory: anonymous (this process's own: code objects, Python objects,
numpy's tables) and file-backed (the pages of shared libraries, which the page cache shares
with every process mapping them). A module counts where it is first imported, so the order
matters: it follows what the app needs first. Also lists the modules a built app should not
have loaded (LAZY_MODULES).
"""

from __future__ import annotations

import importlib
import sys

# In the order the app's own imports reach them.
STEPS = (
    ("numpy", "numpy"),
    ("scipy.sparse", "scipy.sparse (the model's weights, the TF-IDF vectors)"),
    ("sqlalchemy", "SQLAlchemy"),
    ("flask_sqlalchemy", "Flask and Flask-SQLAlchemy"),
    ("celery.app.task", "Celery (enqueueing jobs)"),
    ("redis", "redis-py"),
    ("flask_admin", "Flask-Admin"),
    ("flask_smorest", "flask-smorest, marshmallow, apispec"),
)
# Imported where they are used, not with the app (Alembic: by the `flask db` commands, which
# a gunicorn worker's app leaves out).
LAZY_MODULES = ("zxcvbn", "icu", "implicit", "alembic")
# Of those, the ones whose cost is shown, imported after the app.
SHOWN_LAZY_MODULES = ("zxcvbn", "icu", "alembic.migration")


def resident_kib() -> tuple[int, int]:
    figures = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(("RssAnon:", "RssFile:")):
                figures[line.split(":")[0]] = int(line.split()[1])
    return figures["RssAnon"], figures["RssFile"]


def main() -> int:
    anon, mapped = resident_kib()
    print(f"{'step':66} {'anon MiB':>9} {'file MiB':>9}")
    print(f"{'interpreter':66} {anon / 1024:9.1f} {mapped / 1024:9.1f}")

    def step(label: str) -> None:
        nonlocal anon, mapped
        now_anon, now_mapped = resident_kib()
        print(f"{label:66} {(now_anon - anon) / 1024:+9.1f} {(now_mapped - mapped) / 1024:+9.1f}")
        anon, mapped = now_anon, now_mapped

    for module, label in STEPS:
        importlib.import_module(module)
        step(label)
    from app import create_app

    step("the app's own modules and the rest of its dependencies")
    # As gunicorn.conf.py builds it for the workers: without the migration commands.
    create_app(
        "development", SQLALCHEMY_DATABASE_URI="sqlite://", REDIS_URL="", MIGRATION_COMMANDS=False
    )
    step("create_app()")
    print(f"{'total':66} {anon / 1024:9.1f} {mapped / 1024:9.1f}")
    loaded = [name for name in LAZY_MODULES if name in sys.modules]
    print(f"loaded although only account writes, jobs or the CLI use them: {loaded or 'none'}")
    for module in SHOWN_LAZY_MODULES:
        importlib.import_module(module)
        step(f"(were {module} imported: what it would add)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
