"""Logs, Prometheus metrics and what each request did (its id, operation, statements, error codes)."""
