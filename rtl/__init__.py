"""Amaranth generators. Not built yet: they arrive with the floating-point generators issue."""
