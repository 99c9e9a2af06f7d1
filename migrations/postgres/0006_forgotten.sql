-- PostgreSQL twin of migrations/sqlite/0006.
-- Tombstones of /coe-privacy forget: the member's key (keyed like
-- opt_outs.user_key, never a raw ID) and when they asked. A reply whose
-- message arrived before that time is refused by the insert itself, so a
-- reply still being written when the member asked is not stored after the
-- forget. The retention purge drops a tombstone once no such reply can be
-- in flight (an hour).
CREATE TABLE forgotten (
    user_key     TEXT PRIMARY KEY,
    forgotten_at TEXT NOT NULL DEFAULT coe_now()
);
