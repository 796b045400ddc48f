-- 0004_kind_and_starting: what kind of change a deployment is, and the
-- health checks of a container that has not passed one yet.
-- A shipped migration is never edited: change the schema in a new file.

-- A deployment's kind (docs/api.md, "Deployment"): deploy, rollback, switch,
-- or config (the first start). The stats leave switches out.
ALTER TABLE deployments ADD COLUMN kind TEXT NOT NULL DEFAULT 'deploy'
    CHECK (kind IN ('deploy', 'rollback', 'switch', 'config'));

-- The deployments recorded before: the first start's trigger is config; a
-- manual switch's first phase is starting (it pulls nothing). A rollback
-- cannot be told from a deploy: both stay deploy.
UPDATE deployments SET kind = 'config' WHERE trigger_source = 'config';
UPDATE deployments SET kind = 'switch' WHERE kind = 'deploy' AND EXISTS (
    SELECT 1 FROM deployment_phases p
    WHERE p.deployment_id = deployments.id AND p.seq = 0 AND p.name = 'starting');

-- A failed check of a container before its first pass (docs/deployments.md,
-- "Health checks"): recorded, not a failure.
ALTER TABLE health_checks ADD COLUMN starting INTEGER NOT NULL DEFAULT 0 CHECK (starting IN (0, 1));
