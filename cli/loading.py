"""``ingest``: load request logs, files or tables, exactly once."""

from __future__ import annotations

import argparse
from typing import Any

import orjson

from cli.common import EXIT_OK, CommandError, Parents, open_store, say
from cli.progress import file_progress, interactive
from routewatch.settings import Settings


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    """Load ``args.paths`` and print what became of every line (stderr), or one JSON summary (stdout)."""
    from ingest.load import ingest
    from ingest.readers import InputError

    store = open_store(settings)
    progress = file_progress if interactive() and not args.json else None
    try:
        report = ingest(
            store,
            args.paths,
            fmt=args.format,
            chunk_rows=settings.ingest_chunk_rows,
            chunks_in_flight=settings.ingest_chunks_in_flight,
            progress=progress,
        )
    except InputError as exc:
        raise CommandError(str(exc)) from None
    summary = report.as_json()
    if args.json:
        print(orjson.dumps(summary).decode())
    for item in report.files:
        known = f"{item.already_quarantined:,} of them quarantined before; " if item.already_quarantined else ""
        if item.skipped:
            say(
                f"{item.file}: already loaded, skipped: read {item.read:,} = duplicates {item.duplicates:,}"
                f" ({known}rerun changes nothing)"
            )
            continue
        say(
            f"{item.file}: read {item.read:,} = loaded {item.loaded:,} + quarantined {item.quarantined:,}"
            f" + duplicates {item.duplicates:,} ({known}{item.updated:,} updates; {item.seconds:.1f} s)"
        )
    if report.recovered_chunks:
        say(f"finished {report.recovered_chunks} chunk(s) left by an interrupted ingest")
    say(
        f"total: read {summary['read']:,} = loaded {summary['loaded']:,} + quarantined {summary['quarantined']:,}"
        f" + duplicates {summary['duplicates']:,}"
    )
    if summary["quarantined"]:
        from routewatch.sqlfiles import query

        sample = " ".join(line for line in query("quarantine_sample").text.splitlines() if not line.startswith("--"))
        say(f'see the bad rows: routewatch sql "{sample}"')
    return EXIT_OK


def register(sub: Any, parents: Parents) -> None:
    """Add ``ingest`` to the command line."""
    from ingest.readers import FORMATS

    ingest = sub.add_parser("ingest", parents=[parents.common], help="load request logs (files, directories, globs, -)")
    ingest.add_argument("paths", nargs="+", metavar="PATH")
    ingest.add_argument("--format", choices=FORMATS, default="auto")
    ingest.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    memory = "peak memory grows with chunk rows times chunks in flight (README, Settings)"
    ingest.add_argument(
        "--chunk-rows", dest="ingest_chunk_rows", type=int, metavar="N", help=f"lines a chunk; {memory}"
    )
    ingest.add_argument(
        "--chunks-in-flight", dest="ingest_chunks_in_flight", type=int, metavar="N", help="chunks loaded at once"
    )
    ingest.set_defaults(run=cmd_ingest)
