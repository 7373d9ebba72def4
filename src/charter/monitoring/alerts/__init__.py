"""Alerts: alert rules (shipped defaults and the organisation's), their evaluation, the alert state machine,
and the hooks other domains subscribe to (incidents open from firing alerts)."""
