"""Embedders (the domain's `Embedder` port: a sentence model, a lexical fallback) and the
per-process vector index that answers searches. graph/ wires them."""
