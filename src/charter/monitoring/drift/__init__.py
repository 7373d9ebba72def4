"""Drift: reference profiles, current windows, per-column tests against Evidently's defaults.

`profiles`, `datasets`, `stats` and `rules` need only numpy (and pyarrow for Parquet): a serving system
builds its profiles locally with them, without the server's dependencies.
"""
