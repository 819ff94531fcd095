-- Picket: daily rollups are folded from their hours once a day has ended
-- (the retention pass does it), not merged on every result: that merge
-- was a rollup row read and written per result. One row, once
-- folding has started: days before day_ms are folded, and day day_ms is
-- folded for the rollup keys up to (scope, key). A day not folded for a
-- key is read from its hourly rows, which are always complete. No row: a
-- database of before this change, whose daily rows were all merged by
-- ingest.
CREATE TABLE rollup_fold (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    day_ms BIGINT NOT NULL,
    scope BIGINT NOT NULL,
    key BIGINT NOT NULL
);
