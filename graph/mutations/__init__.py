"""Mutations, one per module: each a thin resolver calling one domain service."""
