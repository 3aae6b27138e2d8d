"""Unit tests of the domain: services and named queries against in-memory fakes of its ports."""
