-- Per-guild settings, set by admins with /coe-admin and applied without restart.
CREATE TABLE guild_settings (
    guild_id          INTEGER PRIMARY KEY,
    default_therapy   TEXT CHECK (default_therapy IN ('base', 'cbt', 'dbt', 'pct', 'rt')),
    moderator_role_id INTEGER,
    alert_channel_id  INTEGER,
    helpline_region   TEXT,
    updated_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Channels where plain messages get a reply (in a thread).
CREATE TABLE support_channels (
    guild_id   INTEGER NOT NULL,
    channel_id INTEGER NOT NULL,
    added_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (guild_id, channel_id)
);

-- Moderator feedback on a logged reply; reviewer_key is keyed like user_key.
CREATE TABLE reviews (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    interaction_id INTEGER NOT NULL REFERENCES interactions (id) ON DELETE CASCADE,
    reviewer_key   TEXT NOT NULL,
    verdict        TEXT NOT NULL CHECK (verdict IN ('ok', 'concern')),
    note           TEXT,
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX reviews_by_interaction ON reviews (interaction_id);
CREATE INDEX reviews_by_reviewer_key ON reviews (reviewer_key);

-- Members who asked not to be answered in support channels nor recorded.
-- One row per person, across guilds: opting out is about the person.
CREATE TABLE opt_outs (
    user_key TEXT PRIMARY KEY,
    since    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
