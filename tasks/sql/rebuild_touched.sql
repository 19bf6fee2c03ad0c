-- rebuild the touched residents' versions: close what the register knew, insert what it knows now.
-- grain: one row per resident version. expects `touched` (resident_code), `new_versions`, and $recorded_at.
create or replace temp table closed_versions as
select * replace (cast($recorded_at as timestamp) as recorded_to)
from resident_version
where recorded_to is null
  and resident_code in (select resident_code from touched);

delete from resident_version
where recorded_to is null
  and resident_code in (select resident_code from touched);

insert into resident_version by name select * from closed_versions;

insert into resident_version by name
select *, cast($recorded_at as timestamp) as recorded_from, cast(null as timestamp) as recorded_to
from new_versions
-- closed_versions stays until tasks/apply.py has taken its rows out of the register digest's sums
