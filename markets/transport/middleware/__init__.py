"""ASGI middleware, one per module, in the order markets.transport.routes stacks them (outermost first):
request_context, compiled_reads, cors (markets.transport.cors), body_timeout, body_limit."""
