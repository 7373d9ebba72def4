"""Notifications: one service for every event (incidents, alerts, approvals, deadlines); Apprise and signed webhooks."""
