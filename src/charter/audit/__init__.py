"""charter.audit."""
