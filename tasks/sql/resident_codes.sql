-- the 住民票コード a change file names, each with the person the register knows it for when a
-- RESIDENT_CODE_CHANGE issued it (the person key: the code the register first knew them by), and whether
-- the register holds it already (only asked for the codes the file's changes issue: RESIDENT_CODE_IN_USE).
-- grain: one row per code the file names.
-- expects the relation `incoming` (resident_code, new_resident_code).
with named as (
    select resident_code as code, false as issued_here from incoming where resident_code is not null
    union
    select new_resident_code, true from incoming where new_resident_code is not null
),
issued as (
    select new_resident_code as code, any_value(resident_code) as person
    from event
    where event_type = 'RESIDENT_CODE_CHANGE'
      and cancelled_by is null
    group by new_resident_code
)
select n.code,
       any_value(i.person) as person,
       bool_or(n.issued_here and (i.person is not null
                                  or exists (select 1 from event as e where e.resident_code = n.code))) as in_register
from named as n
left join issued as i using (code)
group by n.code
