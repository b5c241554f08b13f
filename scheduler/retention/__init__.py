"""Retention: `graft gc` and the schedulers' periodic gc. Executions that ended before a
cutoff leave the database (`rows`); store objects that nothing kept names are deleted, by
mark (`mark`) and sweep (`sweep`) over the content-addressed store (`collect`); the
schedulers run it on a thread, one at a time (`daily`). See docs/operations.md."""
