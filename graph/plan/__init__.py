"""Compiled reads (issue 10): an execution plan per validated document, built once and cached with it.

A plan is a tree of plain functions that build the response dict straight from rows of the read
views (domain.ports.ReadViews), one statement per level; graphql-core runs whatever the planner declines,
and any request whose answer would carry an error. See graph.plan.compiler (what is planned),
graph.plan.executor (how a plan runs) and markets.transport.compiled_reads (the HTTP side).
"""
