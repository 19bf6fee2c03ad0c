-- one row per resident to erase: their record is removed (除票) as the register knows it now, the removal took
-- effect more than $years calendar years before $as_of (exactly $years years ago stays), and no tombstone
-- says they were erased already; with how many of their versions and events the erasure clears.
with last_versions as (
    select resident_code, status, valid_from
    from resident_version
    where recorded_to is null
      and valid_to is null
),

removed_long_ago as (
    select resident_code, valid_from as removed_on
    from last_versions
    where status = 'removed'
      and valid_from < cast(cast($as_of as date) - to_years(cast($years as integer)) as date)
),

not_yet_erased as (
    select removed_long_ago.*
    from removed_long_ago
    anti join erased_resident using (resident_code)
),

versions as (
    select resident_code, count(*) as versions
    from resident_version
    semi join not_yet_erased using (resident_code)
    group by resident_code
),

events as (
    select resident_code, count(*) as events
    from event
    semi join not_yet_erased using (resident_code)
    group by resident_code
)

select n.resident_code, n.removed_on, v.versions, coalesce(e.events, 0) as events
from not_yet_erased as n
join versions as v using (resident_code)
left join events as e using (resident_code)
order by n.resident_code
