-- every delivery accounts for every row it read: read = applied + quarantined + skipped, and the
-- ledger rows behind the counts exist. grain: one row per delivery that breaks the identity.
with applied as (
    select delivery_no, count(*) as events from event group by delivery_no
),
quarantined as (
    select delivery_no, count(*) as rows from quarantine group by delivery_no
)
select f.file_name, f.delivery_no, f.rows_read, f.rows_applied, f.rows_quarantined, f.rows_skipped,
       coalesce(a.events, 0) as events_in_ledger, coalesce(q.rows, 0) as rows_in_quarantine
from file_ledger as f
left join applied as a using (delivery_no)
left join quarantined as q using (delivery_no)
where f.rows_read <> f.rows_applied + f.rows_quarantined + f.rows_skipped
   or f.rows_applied <> coalesce(a.events, 0)
   or f.rows_quarantined <> coalesce(q.rows, 0)
order by f.delivery_no
