"""Postmortems (the root-cause step of the lifecycle) and their action items."""
