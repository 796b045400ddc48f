-- 0002_traffic: the traffic mode of each app (docs/traffic.md): a pause or
-- a maintenance is stored so that it survives a restart, kill -9 and an
-- upgrade of serve. A shipped migration is never edited.
--
-- One row per app that was ever paused, put in maintenance or resumed; an
-- app without a row serves. Durations are whole milliseconds; since is a
-- time in the form of 0001_init.

CREATE TABLE app_traffic (
    app            TEXT PRIMARY KEY,
    mode           TEXT NOT NULL CHECK (mode IN ('serving', 'paused', 'maintenance')),
    since          TEXT NOT NULL,
    max_wait_ms    INTEGER NOT NULL DEFAULT 0 CHECK (max_wait_ms >= 0),
    message        TEXT NOT NULL DEFAULT '',
    retry_after_ms INTEGER NOT NULL DEFAULT 0 CHECK (retry_after_ms >= 0)
) STRICT, WITHOUT ROWID;
