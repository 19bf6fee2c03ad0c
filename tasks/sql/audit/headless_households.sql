-- households to look at on $as_of: two or more residents without a 世帯主 for more than 14 days (住基法25条:
-- a 世帯主変更 is due within 14 days; a household of one is headed by its member by definition,
-- tasks/sql/household_heads.sql), and households with two 世帯主 (kept from before rule HOUSEHOLD_HAS_HEAD).
-- grain: one row per household, by problem, oldest first.
with on_day as (
    select household_id, members, declared_heads, head_basis
    from household_heads($as_of)
),
headless as (
    select household_id, members
    from on_day
    where declared_heads = 0
      and head_basis is null
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
select 'two_heads', household_id, members, null, null
from on_day
where declared_heads > 1
order by problem desc, since, household_id
