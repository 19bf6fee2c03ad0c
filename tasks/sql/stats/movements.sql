-- movements (異動集計表) with effective_date in $date_from..$date_to, as the register knows them now
-- (or knew them at $known_at, utc).
-- grain: one row per (nationality_group, sex) with any movement.
with known as (
    select resident_code, version_no, valid_from, event_type, status, sex, nationality
    from resident_version
    where (case when cast($known_at as timestamp) is null then recorded_to is null
                else recorded_from <= cast($known_at as timestamp)
                     and (recorded_to is null or recorded_to > cast($known_at as timestamp)) end)
),
moved as (
    -- the people with a version starting in the period: the window runs over their versions only
    select distinct resident_code from known
    where valid_from between $date_from and $date_to and event_type <> 'BASELINE'
),
versions as (
    select resident_code, version_no, valid_from, event_type, status, sex,
           case when nationality = 'JP' then 'japanese' else 'foreign' end as nationality_group,
           lag(status) over person as before_status,
           lag(sex) over person as before_sex,
           lag(case when nationality = 'JP' then 'japanese' else 'foreign' end) over person as before_group
    from known
    semi join moved using (resident_code)
    window person as (partition by resident_code order by version_no)
),
in_period as (
    select * from versions
    where valid_from between $date_from and $date_to and event_type <> 'BASELINE'
),
counted as (
    -- an addition is keyed by the record after it
    select nationality_group, sex, event_type as movement from in_period
    where event_type in ('BIRTH', 'MOVE_IN', 'RETURN_FROM_ABROAD', 'ENTRY_BY_AUTHORITY', 'MOVE_WITHIN')
    union all
    -- a removal by the record before it
    select before_group, before_sex, event_type from in_period
    where event_type in ('MOVE_OUT', 'MOVE_OUT_CONFIRMED', 'MOVE_ABROAD', 'DEATH', 'REMOVAL_BY_AUTHORITY')
    union all
    -- a change of key while current: out of the old key, into the new one
    select before_group, before_sex, 'KEY_CHANGE_OUT' from in_period
    where status = 'current' and before_status = 'current'
      and event_type not in ('MOVE_WITHIN')
      and (before_group <> nationality_group or before_sex <> sex)
    union all
    select nationality_group, sex, 'KEY_CHANGE_IN' from in_period
    where status = 'current' and before_status = 'current'
      and event_type not in ('MOVE_WITHIN')
      and (before_group <> nationality_group or before_sex <> sex)
),
tallied as (
    select nationality_group, sex,
           count(*) filter (movement = 'MOVE_IN') as moved_in_domestic,
           count(*) filter (movement = 'RETURN_FROM_ABROAD') as moved_in_abroad,
           count(*) filter (movement = 'BIRTH') as births,
           count(*) filter (movement in ('ENTRY_BY_AUTHORITY', 'KEY_CHANGE_IN')) as other_additions,
           -- a 転出確定 replaces its plan: one move-out, on the actual date
           count(*) filter (movement in ('MOVE_OUT', 'MOVE_OUT_CONFIRMED')) as moved_out_domestic,
           count(*) filter (movement = 'MOVE_ABROAD') as moved_out_abroad,
           count(*) filter (movement = 'DEATH') as deaths,
           count(*) filter (movement in ('REMOVAL_BY_AUTHORITY', 'KEY_CHANGE_OUT')) as other_removals,
           count(*) filter (movement = 'MOVE_WITHIN') as moves_within
    from counted
    group by nationality_group, sex
)
select nationality_group, sex,
       moved_in_domestic, moved_in_abroad, births, other_additions,
       moved_in_domestic + moved_in_abroad + births + other_additions as additions,
       moved_out_domestic, moved_out_abroad, deaths, other_removals,
       moved_out_domestic + moved_out_abroad + deaths + other_removals as removals,
       (moved_in_domestic + moved_in_abroad + births + other_additions)
         - (moved_out_domestic + moved_out_abroad + deaths + other_removals) as net_change,
       births - deaths as natural_change,
       moved_in_domestic + moved_in_abroad + other_additions
         - moved_out_domestic - moved_out_abroad - other_removals as social_change,
       moves_within
from tallied
order by nationality_group, sex
