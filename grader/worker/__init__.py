"""Queue plumbing: the Celery app and thin tasks that call the engine."""
