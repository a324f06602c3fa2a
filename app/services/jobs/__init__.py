"""What the background jobs do, as plain functions (app/tasks wraps them in Celery tasks):
recording job runs, retraining, precomputing recommendations, TMDb upkeep."""
