"""Risk matrices: the scales, level bands and review cadence risks are scored with; installed, activated, resolved."""
