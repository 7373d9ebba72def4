"""Data governance: dataset register, lineage, retention, and the PII library (``charter.data.pii``)."""
