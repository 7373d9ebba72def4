"""charter.http."""
