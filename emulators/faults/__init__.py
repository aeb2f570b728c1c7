"""Fault injection: the fault taxonomy's kinds, scenarios, a random fault process and ground truth."""
