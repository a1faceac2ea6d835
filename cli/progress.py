"""Progress bars on stderr, drawn only when stderr is a terminal: the face's, fed by the cores' callbacks."""

from __future__ import annotations

import sys

from ingest.readers import Source


def interactive() -> bool:
    """Whether stderr is a terminal, where a bar redrawn in place is readable."""
    return sys.stderr.isatty()


def progress_bar(label: str, share: float, detail: str) -> None:
    """One line on stderr, redrawn in place: ``label``, a bar for ``share`` of the work and ``detail``; a newline
    once the work is done."""
    sys.stderr.write(f"\r{label} [{'#' * int(share * 30):30}] {detail}")
    if share >= 1:
        sys.stderr.write("\n")
    sys.stderr.flush()


def stage_progress(stage: str, done: int, total: int) -> None:
    """The progress bar of counted work: ``done`` of ``total`` steps of ``stage`` (the gap table's callback)."""
    progress_bar(f"{stage:20}", done / total if total else 1.0, f"{done:>6,} of {total:,}")


def file_progress(source: Source, done_bytes: int, rows: int) -> None:
    """The progress bar of one input file: the share of its bytes read, and the rows so far (ingest's callback)."""
    share = done_bytes / source.size if source.size else 1.0
    progress_bar(f"{source.display[-40:]:40}", share, f"{share:4.0%} {rows:>12,} rows")
