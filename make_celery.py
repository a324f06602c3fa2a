"""The Celery app for `celery -A make_celery worker` and `celery -A make_celery beat`
(the Procfile's worker and beat, `make worker`): the Flask app's, with its tasks."""

from app import create_app
from config import INSTANCE_DIR

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
INSTANCE_DIR.mkdir(parents=True, exist_ok=True)  # beat keeps its schedule file there
