"""HTTP and WebSocket on Starlette: the only part of the project that imports Starlette. It serves the
schema of `graph/`, which knows nothing of it."""
