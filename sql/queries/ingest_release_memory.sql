-- name: ingest_release_memory
-- params: none
-- returns: nothing; hands the memory the embedded engine's allocator keeps after a chunk back to the system, so that
-- the next chunks start from what is really in use (embedded store only: on a server it is the server's business)
SYSTEM JEMALLOC PURGE
