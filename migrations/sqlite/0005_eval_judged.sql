-- The strategy the eval's judge found in each reply, stored as the reply
-- completes so a resumed run never embeds a finished reply again
-- (NULL: no reply, or the run had no judge when it was recorded).
ALTER TABLE eval_items ADD COLUMN judged_strategy TEXT
    CHECK (judged_strategy IN ('emotional_reaction', 'exploration', 'interpretation'));
