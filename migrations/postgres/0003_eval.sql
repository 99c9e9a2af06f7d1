-- PostgreSQL twin of migrations/sqlite/0003.
-- Evaluation runs over EPITOME-format data. Each item is written as soon as
-- it completes, so an interrupted run resumes without repeating LLM calls.
CREATE TABLE eval_runs (
    run_id      TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL DEFAULT coe_now(),
    finished_at TEXT,
    info        TEXT NOT NULL           -- JSON: dataset path + sha256, model, params, prompt versions, seeds
);

CREATE TABLE eval_items (
    run_id            TEXT    NOT NULL REFERENCES eval_runs (run_id) ON DELETE CASCADE,
    item_id           TEXT    NOT NULL,
    therapy           TEXT    NOT NULL CHECK (therapy IN ('base', 'cbt', 'dbt', 'pct', 'rt')),
    gold              TEXT    NOT NULL CHECK (gold IN ('emotional_reaction', 'exploration', 'interpretation')),
    predicted         TEXT    CHECK (predicted IN ('emotional_reaction', 'exploration', 'interpretation')),
    outcome           TEXT    NOT NULL CHECK (outcome IN ('replied', 'parse_error', 'llm_error')),
    crisis_flagged    BIGINT  NOT NULL DEFAULT 0,
    emotion           TEXT,
    reply             TEXT,
    latency_ms        BIGINT  NOT NULL,
    prompt_tokens     BIGINT,
    completion_tokens BIGINT,
    PRIMARY KEY (run_id, therapy, item_id)
);
