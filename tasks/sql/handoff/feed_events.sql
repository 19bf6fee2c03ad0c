-- the events sent in applied delivery $delivery_no, and the earlier events its cancellations undo. each carries the
-- record it made (`after`) and the record before it (`before`) as the register knew them right after its own
-- file was applied, which decide whether a subscriber gets it (the same whenever computed), and `now`: the
-- person's newest record as the register knows it now, which is what the row sends (null when no record is
-- left: a cancelled addition). an event is sent in its own delivery, except a planned removal (転出予定: a
-- MOVE_OUT or MOVE_ABROAD taking effect after its file's business date), which is sent in the first later
-- delivery whose business date reaches its effective date (`sent_in`; null while none has). the events in
-- $resend (rows a receiver answered with an error) are taken too, whatever their delivery.
-- grain: one row per event, in the order the events were recorded (delivery, line).
with applied as (
    select delivery_no, business_date
    from file_ledger
    where status = 'applied'
),
planned as (
    -- the planned removals of the whole ledger: few (a move-out is notified at most 14 days ahead)
    select e.event_id,
           (select min(l.delivery_no)
            from applied as l
            where l.delivery_no > e.delivery_no
              and l.business_date >= e.effective_date) as sent_in
    from event as e
    join applied as f on f.delivery_no = e.delivery_no
    where e.event_type in ('MOVE_OUT', 'MOVE_ABROAD')
      and e.effective_date > f.business_date
),
wanted as (
    select e.*, if(p.event_id is null, e.delivery_no, p.sent_in) as sent_in
    from event as e
    left join planned as p on p.event_id = e.event_id
    -- a BASELINE event is never sent (no subscriber may list it): leaving its own delivery's out keeps a
    -- BASELINE file (every resident) from being joined to all their versions for no row
    where (e.delivery_no = $delivery_no and e.event_type <> 'BASELINE')
       or p.sent_in = $delivery_no
       or list_contains($resend::varchar[], e.event_id)
       or e.event_id in (select cancels_event_id
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
       w.sent_in,
       w.line,
       c.delivery_no as cancelled_in,
       t.sent_in as target_sent_in,
       a as after,
       b as before,
       n as now
from wanted as w
left join event as c on c.event_id = w.cancelled_by
left join wanted as t on t.event_id = w.cancels_event_id
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
