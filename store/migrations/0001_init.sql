-- 0001_init: the first schema of bluegreen's state, history and audit trail.
-- A shipped migration is never edited: change the schema in a new file.
--
-- Times are UTC text in a fixed-width RFC 3339 form with nanoseconds
-- ("2006-01-02T15:04:05.000000000Z"), so they read well and sort as text.
-- App names are not foreign keys: history outlives an app removed from the
-- config, and supervisor events have no app ('').

-- The last known state of each app, one row per app.
CREATE TABLE apps (
    name          TEXT PRIMARY KEY,
    active_color  TEXT NOT NULL DEFAULT '' CHECK (active_color IN ('', 'blue', 'green')),
    current_image TEXT NOT NULL DEFAULT '',
    desired_image TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL DEFAULT '',
    error         TEXT NOT NULL DEFAULT '',
    updated_at    TEXT NOT NULL
) STRICT;

-- The container of each app and color, as the supervisor last saw it.
CREATE TABLE containers (
    app           TEXT NOT NULL,
    color         TEXT NOT NULL CHECK (color IN ('blue', 'green')),
    container_id  TEXT NOT NULL DEFAULT '',
    image         TEXT NOT NULL DEFAULT '',
    deployment_id INTEGER NOT NULL DEFAULT 0,
    state         TEXT NOT NULL DEFAULT '',
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (app, color)
) STRICT, WITHOUT ROWID;

-- Deployments; AUTOINCREMENT so an id is never handed out twice.
CREATE TABLE deployments (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    app            TEXT NOT NULL,
    from_image     TEXT NOT NULL DEFAULT '',
    to_image       TEXT NOT NULL DEFAULT '',
    color          TEXT NOT NULL DEFAULT '',
    trigger_source TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL,
    error          TEXT NOT NULL DEFAULT '',
    logs           TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(logs) AND json_type(logs) = 'array'),
    started_at     TEXT NOT NULL,
    completed_at   TEXT,
    duration_ms    INTEGER NOT NULL DEFAULT 0
) STRICT;

-- History of an app, newest first.
CREATE INDEX deployments_app_id ON deployments (app, id);
-- Deployments in given statuses across all apps (e.g. unfinished ones at start).
CREATE INDEX deployments_status_id ON deployments (status, id);
-- Stats: counts per status and the durations of completed ones in order.
CREATE INDEX deployments_app_status_duration ON deployments (app, status, duration_ms);

-- The phases of a deployment, in order.
CREATE TABLE deployment_phases (
    deployment_id INTEGER NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    name          TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    duration_ms   INTEGER NOT NULL DEFAULT 0,
    error         TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (deployment_id, seq)
) STRICT, WITHOUT ROWID;

-- Health check results per app and color.
CREATE TABLE health_checks (
    id               INTEGER PRIMARY KEY,
    app              TEXT NOT NULL,
    color            TEXT NOT NULL CHECK (color IN ('blue', 'green')),
    container_id     TEXT NOT NULL DEFAULT '',
    at               TEXT NOT NULL,
    success          INTEGER NOT NULL CHECK (success IN (0, 1)),
    status_code      INTEGER NOT NULL DEFAULT 0,
    response_time_ms REAL NOT NULL DEFAULT 0,
    error            TEXT NOT NULL DEFAULT ''
) STRICT;

-- Newest checks of one app and color; pruning per app and color.
CREATE INDEX health_checks_app_color_at ON health_checks (app, color, at, id);

-- The audit trail; AUTOINCREMENT so ids only grow and after_id cursors hold.
CREATE TABLE events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    at            TEXT NOT NULL,
    app           TEXT NOT NULL DEFAULT '',
    deployment_id INTEGER,
    type          TEXT NOT NULL,
    message       TEXT NOT NULL DEFAULT '',
    data          TEXT NOT NULL DEFAULT 'null' CHECK (json_valid(data))
) STRICT;

-- Events of one app in id order.
CREATE INDEX events_app_id ON events (app, id);
-- Events of one deployment.
CREATE INDEX events_deployment_id ON events (deployment_id) WHERE deployment_id IS NOT NULL;
