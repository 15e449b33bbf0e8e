"""One module per command-line command; see ketadesk.cli."""
