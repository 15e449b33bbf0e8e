"""The booking, series-move and appointment dialogs."""
