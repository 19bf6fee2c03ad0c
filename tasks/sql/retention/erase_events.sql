-- one row per accepted event of a resident being erased, its personal columns cleared ({cleared} comes from
-- tasks/retention.py ERASED, the one list); ids, types, dates, file and run are kept.
-- expects `erasing` (resident_code).
create or replace temp table erased_events as
select * replace ({cleared})
from event
semi join erasing using (resident_code);

delete from event
where resident_code in (select resident_code from erasing);

insert into event by name select * from erased_events;

drop table erased_events
