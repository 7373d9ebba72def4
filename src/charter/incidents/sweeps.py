"""Registers the incident sweeps with the periodic sweeper (charter.sweeps): escalation timers,
serious-incident reporting reminders, overdue action items."""

from __future__ import annotations

from charter.incidents import alerts as _alert_hook  # noqa: F401  (alerts firing in a sweep open incidents)
from charter.incidents import escalation, metrics, regulatory
from charter.sweeps import register_sweep

register_sweep(escalation.SWEEP_NAME, escalation.sweep)
register_sweep(regulatory.SWEEP_NAME, regulatory.sweep)
register_sweep("incidents.action_items", metrics.sweep_overdue_actions)
