-- One anonymized row per reply the bot gave (or declined to give).
-- Never a raw Discord user ID and never the member's message text:
-- user_key is HMAC-SHA256(COE_HASH_KEY, user id); reasoning is redacted
-- before it is written and purged after the retention period.
CREATE TABLE interactions (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at        TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    guild_id          INTEGER,            -- the Discord server (not a person); NULL from the terminal
    source            TEXT    NOT NULL CHECK (source IN ('slash', 'channel', 'cli')),
    user_key          TEXT    NOT NULL,
    therapy           TEXT    NOT NULL CHECK (therapy IN ('base', 'cbt', 'dbt', 'pct', 'rt')),
    prompt_version    TEXT    NOT NULL,
    model             TEXT    NOT NULL,
    emotion           TEXT,
    strategy          TEXT    CHECK (strategy IN ('emotional_reaction', 'exploration', 'interpretation')),
    reasoning         TEXT,               -- JSON array of redacted steps; NULL when not kept
    outcome           TEXT    NOT NULL CHECK (outcome IN
                          ('replied', 'crisis', 'parse_error', 'llm_error', 'refused', 'reply_failed')),
    latency_ms        INTEGER NOT NULL,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER
);

CREATE INDEX interactions_by_guild ON interactions (guild_id, id);
CREATE INDEX interactions_by_user_key ON interactions (user_key);
CREATE INDEX interactions_by_created_at ON interactions (created_at);
