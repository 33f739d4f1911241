"""localgov-aggregator: one feed and one digest from a network's many members."""

__version__ = "0.1.0"
