"""Registers the outbox delivery with the periodic sweeper (charter.sweeps)."""

from __future__ import annotations

from charter.notifications.delivery import deliver_pending
from charter.sweeps import register_sweep

register_sweep("notifications.deliver", deliver_pending)
