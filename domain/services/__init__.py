"""Use cases: each takes its collaborators by keyword and runs in one unit of work."""
