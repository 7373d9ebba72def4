"""Evaluation: datasets, targets, scorers, expert benchmarks, judge calibration and group fairness."""
