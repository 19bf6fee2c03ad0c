-- what the register knows now is one gapless chain per person: versions numbered 1..n, each
-- valid_to the next valid_from, the last open. grain: one row per version that breaks it.
with chain as (
    select resident_code, version_no, valid_from, valid_to,
           lead(valid_from) over (partition by resident_code order by version_no) as next_from,
           row_number() over (partition by resident_code order by version_no) as position
    from resident_version
    where recorded_to is null
)
select resident_code, version_no
from chain
where version_no <> position
   or valid_to is distinct from next_from
   or valid_to < valid_from
order by resident_code, version_no
