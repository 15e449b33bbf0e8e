"""The main window, its pages, side panel, sign-in session and change watcher."""
