"""Tests of bench/ (the benchmark helpers)."""
