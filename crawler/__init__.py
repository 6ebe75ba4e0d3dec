"""verdict-archive's fetching side: discovery, polite fetching, scheduling and the CLI."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("verdict-archive")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"
