-- PostgreSQL twin of migrations/sqlite/0008.
-- Supporter assist (issue 13). Who may ask for drafts: the supporter role
-- (moderators always may). How each support channel is answered: public
-- bot replies, supporter drafts only, or both.
ALTER TABLE guild_settings ADD COLUMN supporter_role_id BIGINT;
ALTER TABLE support_channels ADD COLUMN mode TEXT NOT NULL DEFAULT 'public'
    CHECK (mode IN ('public', 'drafts', 'both'));

-- A supporter's verdict on one card (a draft, or feedback on their own
-- reply): labels only, never text. One row per card, keyed by the card
-- message's id (not personal data); the supporter keyed like user_key.
CREATE TABLE assist_verdicts (
    card_id       BIGINT PRIMARY KEY,
    guild_id      BIGINT,
    supporter_key TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('draft', 'feedback')),
    therapy       TEXT NOT NULL CHECK (therapy IN ('base', 'cbt', 'dbt', 'pct', 'rt')),
    strategy      TEXT CHECK (strategy IN ('emotional_reaction', 'exploration', 'interpretation')),
    verdict       TEXT NOT NULL CHECK (verdict IN ('used', 'used_with_edits', 'not_helpful')),
    created_at    TEXT NOT NULL DEFAULT coe_now()
);
CREATE INDEX assist_verdicts_by_guild ON assist_verdicts (guild_id, created_at);
CREATE INDEX assist_verdicts_by_supporter_key ON assist_verdicts (supporter_key);
