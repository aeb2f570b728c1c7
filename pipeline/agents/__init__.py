"""Faust agents, one module each."""
