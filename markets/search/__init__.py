"""Embedders (the domain's `Embedder` port: a sentence model, a lexical fallback) and the
per-process vector index that answers searches. markets.bootstrap wires them."""
