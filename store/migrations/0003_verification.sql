-- 0003_verification: a verified deployment's window (docs/verification.md).
-- verification is the JSON of deploy.Verification for the window watched
-- now or last; NULL for a deployment that was not verified.
ALTER TABLE deployments ADD COLUMN verification TEXT
    CHECK (verification IS NULL OR (json_valid(verification) AND json_type(verification) = 'object'));
