-- PostgreSQL twin of migrations/sqlite/0004.
-- The gate's verdict per reply: tier, the layer that decided and the
-- classifier's score (never the text), so moderators can tell why.
ALTER TABLE interactions ADD COLUMN risk_tier TEXT NOT NULL DEFAULT 'none'
    CHECK (risk_tier IN ('none', 'mention', 'concern', 'crisis'));
ALTER TABLE interactions ADD COLUMN risk_layer TEXT
    CHECK (risk_layer IN ('patterns', 'classifier', 'model_screen'));
ALTER TABLE interactions ADD COLUMN risk_score DOUBLE PRECISION;
-- Rows from before the tiers: a crisis outcome was the patterns' verdict.
UPDATE interactions SET risk_tier = 'crisis', risk_layer = 'patterns' WHERE outcome = 'crisis';

-- After a crisis reply in a support thread the bot stops improvising there
-- until a moderator clears it (/coe-mod clear) or the pause ends.
CREATE TABLE paused_threads (
    channel_id   BIGINT PRIMARY KEY,  -- the thread (a channel, not a person)
    guild_id     BIGINT NOT NULL,
    paused_until TEXT   NOT NULL      -- RFC 3339, UTC
);
