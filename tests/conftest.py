"""Shared test set-up: importing the package configures the offline runtime and registers LSKA."""

import lska_demo  # noqa: F401
