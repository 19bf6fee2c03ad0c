-- one row per version of a resident being erased, its personal columns cleared ({cleared} comes from
-- tasks/retention.py ERASED, the one list). delete + insert: in-place updates cost O(register) here.
-- expects `erasing` (resident_code).
create or replace temp table erased_versions as
select * replace ({cleared})
from resident_version
semi join erasing using (resident_code);

delete from resident_version
where resident_code in (select resident_code from erasing);

insert into resident_version by name select * from erased_versions;

drop table erased_versions
