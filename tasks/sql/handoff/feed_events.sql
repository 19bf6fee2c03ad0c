-- the events recorded on $business_date, and the earlier events that its cancellations undo, each with the
-- record it made (`after`) and the record before it (`before`) as the register knew them right after its own
-- file was applied, so the feed of a day is the same whenever it is computed. a CANCEL also carries
-- `restored`: the record on its target's effective date once the target is undone.
-- grain: one row per event, in the order the events were recorded (delivery, line).
with wanted as (
    select *
    from event
    where business_date = $business_date
       or event_id in (select cancels_event_id
                       from event
                       where business_date = $business_date and event_type = 'CANCEL')
)
select w.event_id,
       w.event_type,
       w.effective_date,
       w.notified_date,
       w.resident_code,
       w.cancels_event_id,
       w.business_date,
       w.delivery_no,
       w.line,
       c.business_date as cancelled_on,
       t.business_date as target_business_date,
       a as after,
       b as before,
       r as restored
from wanted as w
left join event as c on c.event_id = w.cancelled_by
left join event as t on t.event_id = w.cancels_event_id
left join resident_version as a
       on a.event_id = w.event_id
      and a.resident_code = w.resident_code
      and a.recorded_from <= w.recorded_at
      and (a.recorded_to is null or a.recorded_to > w.recorded_at)
left join resident_version as b
       on b.resident_code = a.resident_code
      and b.version_no = a.version_no - 1
      and b.recorded_from <= w.recorded_at
      and (b.recorded_to is null or b.recorded_to > w.recorded_at)
left join resident_version as r
       on w.event_type = 'CANCEL'
      and r.resident_code = w.resident_code
      and r.recorded_from <= w.recorded_at
      and (r.recorded_to is null or r.recorded_to > w.recorded_at)
      and r.valid_from <= t.effective_date
      and (r.valid_to is null or r.valid_to > t.effective_date)
order by w.delivery_no, w.line
