"""Shared test support: factories, fixtures and helpers no test module owns."""
