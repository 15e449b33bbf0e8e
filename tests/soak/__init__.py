"""Soak tests (`make soak`, never part of `make test`): many workstation processes for many
minutes, optionally killed with SIGKILL, then an independent SQL check of what they left."""
