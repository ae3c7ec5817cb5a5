"""Rendering (rich tables) and export (CSV, Markdown, JSON) of analysis results."""
