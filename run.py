#!/usr/bin/env python3
"""``python run.py [COMMAND]``: the same command line as the ``aggregator`` console script."""

from aggregator.cli.main import entrypoint

if __name__ == "__main__":
    entrypoint()
