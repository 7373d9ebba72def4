"""charter.kit."""
