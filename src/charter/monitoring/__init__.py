"""Monitoring: metric ingestion, alert rules and alerts, anomaly and drift detection, post-deployment checks.

`charter.monitoring.drift.profiles` and `charter.monitoring.drift.datasets` need only numpy (and the standard library),
so a serving system can build drift profiles without installing or reaching the server.
"""
