"""flightlog.tui: the Textual terminal UI (browse, inspect, compare runs; live)."""

from .app import FlightlogApp, run

__all__ = ["FlightlogApp", "run"]
