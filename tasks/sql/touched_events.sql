-- the accepted, not cancelled events of the residents a change file names.
-- grain: one row per event, in each person's order.
-- a code a RESIDENT_CODE_CHANGE issued names its person (the code the register first knew them by).
-- expects the relation `incoming` (resident_code).
select e.*
from event as e
where e.cancelled_by is null
  and e.event_type <> 'CANCEL'
  and e.resident_code in (select coalesce(c.resident_code, i.resident_code)
                          from (select distinct resident_code from incoming where resident_code is not null) as i
                          left join event as c
                                 on c.new_resident_code = i.resident_code
                                and c.event_type = 'RESIDENT_CODE_CHANGE'
                                and c.cancelled_by is null)
order by e.resident_code, e.effective_date, e.business_date, e.delivery_no, e.line
