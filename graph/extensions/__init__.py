"""Schema and field extensions: query limits, the parsed-document cache, input checks, the mutation
budget, persisted queries, transient-error retries."""
