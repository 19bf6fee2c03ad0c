-- the erred rows of $subscriber not re-sent yet: they go in its next file, once each.
-- grain: one row per error answered (subscriber, sequence_no, entry_no), oldest first.
select r.sequence_no, r.entry_no, r.event_id
from feed_receipt as r
where r.subscriber = $subscriber
  and r.result = 'error'
  and not exists (select 1
                  from feed_resend as s
                  where s.subscriber = r.subscriber
                    and s.sequence_no = r.sequence_no
                    and s.entry_no = r.entry_no)
order by r.sequence_no, r.entry_no
