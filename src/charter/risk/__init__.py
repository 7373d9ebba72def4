"""Risk register: matrices as data, scoring, lifecycle, mitigations, acceptance, views, gate facts."""
