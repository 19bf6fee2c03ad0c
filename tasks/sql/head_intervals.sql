-- the 世帯主 intervals the register knows now, for every household a change file may touch: those its rows
-- name and those its persons have ever belonged to. expects the relation `incoming` (resident_code, household_id).
-- declared heads only: a head by authority (household_heads.sql) exists only where none is declared, so it
-- can never be a second head, and a member joining a household of one as 世帯主 is lawful.
-- grain: one row per version in which a current resident is 世帯主 (consecutive versions not merged).
with households as (
    select household_id from incoming where household_id is not null
    union
    select v.household_id
    from resident_version as v
    where v.recorded_to is null
      and v.resident_code in (select resident_code from incoming where resident_code is not null)
)
select v.resident_code, v.household_id, v.valid_from, v.valid_to
from resident_version as v
where v.recorded_to is null
  and v.status = 'current'
  and v.relationship = '世帯主'
  and v.household_id in (select household_id from households)
order by v.household_id, v.resident_code, v.valid_from
