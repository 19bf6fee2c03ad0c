-- mark the events a file cancels (or a 転出確定 replaces) with the event that did.
-- grain: one row per event updated. expects `cancels` (target_id, cancel_id).
-- the range of the target ids goes to the scan as well: targets are mostly recent and ids grow with time, so zone
-- maps skip the row groups of other days (the join alone reads every event_id: 3.8x the time for a 5x register).
update event
set cancelled_by = c.cancel_id
from cancels as c
where event.event_id = c.target_id
  and event.event_id between (select min(target_id) from cancels) and (select max(target_id) from cancels)
