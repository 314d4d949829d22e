"""One module per claim notebook: which runs it needs, and the analysis of their results."""
