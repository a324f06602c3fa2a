"""The WSGI entry point: `gunicorn wsgi:app`."""

import gc

# Importing and building the app makes several hundred thousand long-lived objects and
# next to no garbage, yet they trigger full collections that walk all of them: with the
# collector paused, the master boots about 0.1 s sooner (docs/performance.md). gunicorn's
# when_ready then collects and freezes what survives before forking the workers.
gc.disable()
try:
    from app import create_app

    app = create_app()
finally:
    gc.enable()
