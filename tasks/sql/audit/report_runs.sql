-- the audit report: the runs that matter to the period: those that received its files or published its
-- hand-offs, and any run started (UTC) within it. $run_ids holds the first two kinds.
-- grain: one row per run.
select run_id,
       flow_name,
       code_version,
       lock_sha256,
       register_sha256,
       status,
       started_at,
       finished_at,
       coalesce(len(input_sha256), 0) as inputs,
       outputs
from run_ledger
where list_contains($run_ids, run_id)
   or cast(started_at as date) between coalesce(cast($date_from as date), date '0001-01-01')
                                   and coalesce(cast($date_to as date), date '9999-12-31')
order by started_at, run_id
