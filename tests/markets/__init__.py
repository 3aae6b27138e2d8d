"""Tests of markets/."""
