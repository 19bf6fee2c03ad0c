-- the feed rows to look at: those a receiver answered with an error (re-sent or waiting for the next file), and
-- those not answered yet, of subscribers that answer (have sent at least one receipt; one that never does is
-- not expected to).
-- grain: one row per feed row (subscriber, sequence_no, entry_no), by subscriber and file.
with answering as (
    select distinct subscriber
    from feed_receipt
),
erred as (
    select r.subscriber, r.sequence_no, r.entry_no, r.event_id, 'error' as state, r.error_code,
           s.resent_in
    from feed_receipt as r
    left join feed_resend as s
           on s.subscriber = r.subscriber
          and s.sequence_no = r.sequence_no
          and s.entry_no = r.entry_no
    where r.result = 'error'
),
unanswered as (
    select e.subscriber, e.sequence_no, e.entry_no, e.event_id, 'unanswered' as state,
           null::varchar as error_code, null::bigint as resent_in
    from feed_entry as e
    where e.subscriber in (select subscriber from answering)
      and not exists (select 1
                      from feed_receipt as r
                      where r.subscriber = e.subscriber
                        and r.sequence_no = e.sequence_no
                        and r.entry_no = e.entry_no)
)
select u.*, cast(h.business_date as varchar) as business_date  -- text: artifacts take JSON values
from (select * from erred union all select * from unanswered) as u
left join (select subscriber, sequence_no, any_value(business_date) as business_date
           from handoff_ledger
           group by subscriber, sequence_no) as h
       on h.subscriber = u.subscriber
      and h.sequence_no = u.sequence_no
order by u.subscriber, u.sequence_no, u.entry_no
