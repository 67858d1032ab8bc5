-- Each seed run, by its random seed: a seed makes its data once.
CREATE TABLE IF NOT EXISTS seed_runs (
    seed BIGINT PRIMARY KEY,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ
);
