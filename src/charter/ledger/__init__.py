"""Tamper-evident audit ledger: hash-linked entries and signed checkpoints."""
