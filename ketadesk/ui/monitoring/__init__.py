"""The chair board, My day, monitoring records and measures."""
