"""Shared simulation machinery: clock conventions, devices, workload, metrics, trace."""
