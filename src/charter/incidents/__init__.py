"""Incident management: severities, lifecycle, escalation timers, playbooks, postmortems, regulatory clocks."""
