"""The live session: the loop, operator commands, ingest, outbox, planned posts, rehearsals."""
