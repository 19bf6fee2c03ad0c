-- the audit report: every publish to a subscriber whose data date (a snapshot's as-of date, a feed file's
-- business date) lies in the period. the target is left out: it is an address, not evidence.
-- grain: one row per publish.
select subscriber,
       mode,
       sequence_no,
       previous_no,
       as_of,
       business_date,
       rows,
       file_name,
       file_sha256,
       data_sha256,
       encryption,
       excluded,
       published_at,
       run_id
from handoff_ledger
where coalesce(business_date, as_of)
      between coalesce(cast($date_from as date), date '0001-01-01') and coalesce(cast($date_to as date), date '9999-12-31')
order by coalesce(business_date, as_of), published_at, subscriber, sequence_no
