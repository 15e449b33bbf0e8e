"""Printing documents through Qt."""
