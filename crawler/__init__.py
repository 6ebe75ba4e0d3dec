"""verdict-archive's fetching side: discovery, polite fetching, scheduling and the CLI."""

#: The release (pyproject.toml reads it from here); part of the crawler's User-Agent.
__version__ = "0.2.0"
