"""Evaluation of detectors: metrics on labelled series, NAB scoring, fault-level scoring, data readers."""
