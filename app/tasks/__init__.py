"""Background jobs on Celery: `runner` binds Celery to the app (the Flask documentation's
pattern) and enqueues jobs; `job` records each run; the other modules are the tasks, thin
wrappers around app/services/jobs and the services they call."""
