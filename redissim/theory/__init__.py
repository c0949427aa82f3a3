"""Closed-form models the simulator is checked against (queueing formulas, Che's approximation)."""
