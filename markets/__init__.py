"""The application: settings, the composition root, the CLI, the HTTP/WebSocket transport, the Redis and
in-process stores, search, background jobs and observability. It wires `graph/` (the GraphQL API),
`domain/` and `persistence/` together; nothing below it imports it."""
