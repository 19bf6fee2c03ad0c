-- the audit report: disclosures of full My Numbers that belong to the period: a publish of one of the
-- period's hand-off files (same subscriber, file and run), or any disclosure made (UTC) within it.
-- grain: one row per disclosure. the log itself holds no My Number.
select d.disclosure_no,
       d.disclosed_at,
       d.channel,
       d.who,
       d.persons,
       d.why,
       d.file_name,
       d.sequence_no,
       d.resident_code,
       d.run_id
from disclosure_log as d
where cast(d.disclosed_at as date)
      between coalesce(cast($date_from as date), date '0001-01-01') and coalesce(cast($date_to as date), date '9999-12-31')
   or (d.channel = 'publish' and exists (
        select 1 from handoff_ledger as h
        where h.subscriber = d.who and h.file_name = d.file_name and h.run_id = d.run_id
          and coalesce(h.business_date, h.as_of)
              between coalesce(cast($date_from as date), date '0001-01-01') and coalesce(cast($date_to as date), date '9999-12-31')))
order by d.disclosure_no
