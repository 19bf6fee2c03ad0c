-- the accepted, not cancelled events of the residents a change file names.
-- grain: one row per event, in each person's order.
-- expects the relation `incoming` (resident_code).
select e.*
from event as e
where e.cancelled_by is null
  and e.event_type <> 'CANCEL'
  and e.resident_code in (select distinct resident_code from incoming where resident_code is not null)
order by e.resident_code, e.effective_date, e.business_date, e.delivery_no, e.line
