-- the events of applied delivery $delivery_no, and the earlier events its cancellations undo. each carries the
-- record it made (`after`) and the record before it (`before`) as the register knew them right after its own
-- file was applied, which decide whether a subscriber gets it (the same whenever computed), and `now`: the
-- person's newest record as the register knows it now, which is what the row sends (null when no record is
-- left: a cancelled addition).
-- grain: one row per event, in the order the events were recorded (delivery, line).
with wanted as (
    select *
    from event
    where delivery_no = $delivery_no
       or event_id in (select cancels_event_id
                       from event
                       where delivery_no = $delivery_no and event_type = 'CANCEL')
),
theirs as (
    -- the versions of the people these events are about: the joins below read these, not the register
    select *
    from resident_version
    where resident_code in (select resident_code from wanted)
),
newest as (
    select *
    from theirs
    where recorded_to is null
      and valid_to is null
)
select w.event_id,
       w.event_type,
       w.effective_date,
       w.notified_date,
       w.resident_code,
       w.cancels_event_id,
       w.delivery_no,
       w.line,
       c.delivery_no as cancelled_in,
       t.delivery_no as target_delivery_no,
       a as after,
       b as before,
       n as now
from wanted as w
left join event as c on c.event_id = w.cancelled_by
left join event as t on t.event_id = w.cancels_event_id
left join theirs as a
       on a.event_id = w.event_id
      and a.resident_code = w.resident_code
      and a.recorded_from <= w.recorded_at
      and (a.recorded_to is null or a.recorded_to > w.recorded_at)
left join theirs as b
       on b.resident_code = a.resident_code
      and b.version_no = a.version_no - 1
      and b.recorded_from <= w.recorded_at
      and (b.recorded_to is null or b.recorded_to > w.recorded_at)
left join newest as n
       on n.resident_code = w.resident_code
order by w.delivery_no, w.line
