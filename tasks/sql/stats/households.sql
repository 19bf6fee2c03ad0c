-- households (世帯) at the end of $as_of: residents sharing a household_id.
-- grain: one row per (town_code, household_type) with households.
with households as (
    select household_id,
           count(*) as members,
           case when bool_and(nationality = 'JP') then 'japanese'
                when bool_and(nationality <> 'JP') then 'foreign'
                else 'mixed' end as household_type,
           -- the town of the 世帯主, else of the member added earliest (世帯主未設定 is allowed)
           arg_min(town_code, (case when relationship = '世帯主' then 0 else 1 end,
                               resident_since, resident_code)) as town_code
    from residents_on
    group by household_id
)
select town_code, household_type, count(*) as households, cast(sum(members) as bigint) as members
from households
group by town_code, household_type
order by town_code, household_type
