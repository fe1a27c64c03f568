-- Which process runs an import job (issue 12, defect 7): a `lake import` killed with kill -9 left
-- its job `running` for ever. The runner (pid, its start time, its machine) and a heartbeat written
-- while it runs tell any later reader whether that process is still there (src/ingest/job-liveness.ts);
-- one that is not makes the job `interrupted`, until the same import run again takes the job over
-- and resumes it (its files from their checkpoints).
ALTER TABLE imports.jobs DROP CONSTRAINT jobs_status_check;
ALTER TABLE imports.jobs ADD CONSTRAINT jobs_status_check
  CHECK (status IN ('pending', 'queued', 'running', 'interrupted', 'done', 'partial', 'failed', 'cancelled'));
-- {pid, started, machine} of the process that runs or last ran it.
ALTER TABLE imports.jobs ADD COLUMN runner jsonb;
ALTER TABLE imports.jobs ADD COLUMN heartbeat_at timestamptz;
