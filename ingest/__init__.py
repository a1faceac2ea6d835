"""Ingest: readers (files, stdin, the sources teams already log to) -> calls folded into requests -> normalize ->
validate (the great-expectations contract) -> quarantine -> the exactly-once load into the routewatch store.

Never imports ``alerts``, ``app`` or ``cli``; progress is reported to a callback the caller passes.
"""
