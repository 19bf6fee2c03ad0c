-- rebuild the touched residents' versions: close what the register knew, insert what it knows now.
-- grain: one row per resident version. expects `touched` (resident_code), `new_versions`, and $recorded_at.
-- the register's key column is scanned once, for the versions to close: they are deleted again by row id (a
-- scan of no column), and the versions inserted are kept typed as stored, so the register digest's adjustment
-- reads neither from the register (docs/decisions.md, "apply reads the register once").
create or replace temp table closed_versions as
select rowid as stored_row, * replace (cast($recorded_at as timestamp) as recorded_to)
from resident_version
where recorded_to is null
  and resident_code in (select resident_code from touched);

delete from resident_version
where rowid in (select stored_row from closed_versions);

insert into resident_version by name select * exclude (stored_row) from closed_versions;

create or replace temp table inserted_versions as
select * from resident_version limit 0;

insert into inserted_versions by name
select *, cast($recorded_at as timestamp) as recorded_from, cast(null as timestamp) as recorded_to
from new_versions;

insert into resident_version by name select * from inserted_versions
-- closed_versions and inserted_versions stay until tasks/apply.py has adjusted the register digest's sums
