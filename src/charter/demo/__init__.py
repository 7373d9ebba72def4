"""charter.demo."""
