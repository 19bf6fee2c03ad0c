-- the 住民票コード a change file names, each with the person the register knows it for when a
-- RESIDENT_CODE_CHANGE issued it (the person key: the code the register first knew them by), and whether
-- the register holds it already (asked only of the codes the file's changes issue: RESIDENT_CODE_IN_USE).
-- grain: one row per code the file names.
-- expects the relation `incoming` (resident_code, new_resident_code).
with new_codes as (
    select distinct new_resident_code as code from incoming where new_resident_code is not null
),
named as (
    select resident_code as code from incoming where resident_code is not null
    union
    select code from new_codes
),
issued as (
    -- only the codes the file names: the register is read in proportion to the file
    select e.new_resident_code as code, any_value(e.resident_code) as person
    from event as e
    semi join named as n on n.code = e.new_resident_code
    where e.event_type = 'RESIDENT_CODE_CHANGE'
      and e.cancelled_by is null
    group by e.new_resident_code
),
held as (
    select distinct e.resident_code as code
    from event as e
    semi join new_codes as n on n.code = e.resident_code
    union
    select code from issued semi join new_codes using (code)
)
select n.code,
       i.person,
       n.code in (select code from held) as in_register
from named as n
left join issued as i using (code)
