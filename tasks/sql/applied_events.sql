-- the events applied before whose ids a change file names again, as stored.
-- grain: one row per stored event.
-- expects the relation `incoming` (event_id).
select e.*
from event as e
semi join incoming as i on i.event_id = e.event_id
