"""Tests of persistence/."""
