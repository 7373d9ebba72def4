"""Metrics: the vocabulary, batch parsing, ingestion with roll-ups, series reads, retention."""
