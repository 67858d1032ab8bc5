-- The notes example's table. Portable SQL: runs on PostgreSQL and SQLite.
CREATE TABLE IF NOT EXISTS example_notes (
    slug TEXT PRIMARY KEY,
    text TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
