"""Tests of markets.transport/."""
