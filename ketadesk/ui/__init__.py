"""The Qt user interface: windows, views, Qt models, dialogs and printing."""
