-- the events applied before whose ids a change file names again, as stored.
-- grain: one row per stored event.
-- expects the relation `incoming` (event_id).
-- the range of the file's ids goes to the scan as well: where ids grow with time, zone maps skip other days.
select e.*
from event as e
semi join incoming as i on i.event_id = e.event_id
where e.event_id between (select min(event_id) from incoming) and (select max(event_id) from incoming)
