-- one row per row of {table} (resident_version or event) of a resident being erased, its personal columns
-- cleared ({cleared} comes from tasks/retention.py ERASED, the one list); ids, types, dates, file and run
-- are kept. delete + insert: in-place updates cost O(register) here. expects `erasing` (resident_code).
create or replace temp table erased_rows as
select * replace ({cleared})
from {table}
semi join erasing using (resident_code);

delete from {table}
where resident_code in (select resident_code from erasing);

insert into {table} by name select * from erased_rows;

drop table erased_rows
