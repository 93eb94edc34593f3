"""flightlog.tui: the Textual terminal UI (lands with the UI issue)."""
