-- households to look at on $as_of: two or more residents without a 世帯主 for more than 14 days (住基法25条:
-- a 世帯主変更 is due within 14 days; a household of one is headed by its member by definition), and
-- households with two 世帯主 (kept from before rule HOUSEHOLD_HAS_HEAD).
-- grain: one row per household, by problem, oldest first.
with on_day as (
    select resident_code, household_id, relationship
    from resident_version
    where recorded_to is null
      and status = 'current'
      and valid_from <= $as_of
      and (valid_to is null or valid_to > $as_of)
),
headless as (
    select household_id, count(*) as members
    from on_day
    group by household_id
    having count(*) >= 2 and count(*) filter (where relationship = '世帯主') = 0
),
since as (
    -- the day the last head stopped being one, else the day the household was first recorded
    select h.household_id,
           h.members,
           coalesce(max(v.valid_to) filter (where v.relationship = '世帯主' and v.status = 'current'),
                    min(v.valid_from)) as headless_since
    from headless as h
    join resident_version as v
      on v.household_id = h.household_id
     and v.recorded_to is null
     and v.valid_from <= $as_of
    group by h.household_id, h.members
)
select 'no_head' as problem, household_id, members, headless_since as since,
       date_diff('day', headless_since, $as_of) as days
from since
where date_diff('day', headless_since, $as_of) > 14
union all
select 'two_heads', household_id, count(*), null, null
from on_day
group by household_id
having count(*) filter (where relationship = '世帯主') > 1
order by problem desc, since, household_id
