"""WARC interchange: the archive's captures out as WARC 1.1 (export), others' captures in (import)."""
