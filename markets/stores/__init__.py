"""One module per store (market cache, rate limits, persisted queries, market events, job queue): each
holds its Redis implementation and its in-process one side by side behind one small interface."""
