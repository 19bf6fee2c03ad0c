-- the audit report: change files received for business dates $date_from..$date_to (either may be null: open).
-- a file refused before its business date was known counts on the UTC date it was received.
-- grain: one row per delivery. no personal data: names, digests, counts and refusal reasons only.
select delivery_no,
       file_name,
       file_sha256,
       coalesce(business_date, cast(received_at as date)) as business_date,
       business_date is null as dated_by_receipt,
       status,
       reason,
       rows_read,
       rows_applied,
       rows_quarantined,
       rows_skipped,
       run_id,
       received_at
from file_ledger
where coalesce(business_date, cast(received_at as date))
      between coalesce(cast($date_from as date), date '0001-01-01') and coalesce(cast($date_to as date), date '9999-12-31')
order by delivery_no
