-- the movements a balance file counts: those effective in $date_from..$date_to as the register knows them now,
-- and the late ones: for the residents whose record changed after $known_before (utc; null: none), their
-- movements effective up to $date_from − 1 day as known now less the same as known at $known_before. counted as
-- movements.sql counts (each version signed +1 or −1), with the changes of sex alone into each key; a late
-- cancellation of a movement counted before makes a negative count.
-- grain: one row per (nationality_group, sex) with any movement.
with late as (
    -- versions recorded or closed after the knowledge the previous file was written with: few, and no others
    -- differ between the two states
    select distinct resident_code from resident_version
    where recorded_from > cast($known_before as timestamp) or recorded_to > cast($known_before as timestamp)
),
now_known as (
    select resident_code, version_no, valid_from, event_type, status, sex, nationality
    from resident_version
    where recorded_to is null
),
moved as (
    -- the people with a version starting in the period, and the late ones: the window runs over their versions
    select resident_code, bool_or(is_late) as is_late
    from (select resident_code, false as is_late from now_known
          where valid_from between $date_from and $date_to and event_type <> 'BASELINE'
          union all
          select resident_code, true from late)
    group by resident_code
),
then_known as (
    select resident_code, version_no, valid_from, event_type, status, sex, nationality
    from resident_version
    semi join late using (resident_code)
    where recorded_from <= cast($known_before as timestamp)
      and (recorded_to is null or recorded_to > cast($known_before as timestamp))
),
signed as (
    select n.*, m.is_late, 1 as sign from now_known as n join moved as m using (resident_code)
    union all
    select *, true, -1 from then_known
),
versions as (
    select sign, is_late, valid_from, event_type, status, sex,
           case when nationality = 'JP' then 'japanese' else 'foreign' end as nationality_group,
           lag(status) over person as before_status,
           lag(sex) over person as before_sex,
           lag(case when nationality = 'JP' then 'japanese' else 'foreign' end) over person as before_group
    from signed
    window person as (partition by resident_code, sign order by version_no)
),
in_period as (
    select * from versions
    where event_type <> 'BASELINE'
      and (case when sign = 1 then valid_from between $date_from and $date_to
                                   or (is_late and valid_from < $date_from)
                else valid_from < $date_from end)
),
counted as (
    -- an addition is keyed by the record after it
    select nationality_group, sex, event_type as movement, sign from in_period
    where event_type in ('BIRTH', 'MOVE_IN', 'RETURN_FROM_ABROAD', 'ENTRY_BY_AUTHORITY', 'MOVE_WITHIN')
    union all
    -- a removal by the record before it
    select before_group, before_sex, event_type, sign from in_period
    where event_type in ('MOVE_OUT', 'MOVE_OUT_CONFIRMED', 'MOVE_ABROAD', 'DEATH', 'REMOVAL_BY_AUTHORITY')
    union all
    -- a change of key while current: out of the old key, into the new one
    select before_group, before_sex, 'KEY_CHANGE_OUT', sign from in_period
    where status = 'current' and before_status = 'current'
      and event_type not in ('MOVE_WITHIN')
      and (before_group <> nationality_group or before_sex <> sex)
    union all
    select nationality_group, sex, 'KEY_CHANGE_IN', sign from in_period
    where status = 'current' and before_status = 'current'
      and event_type not in ('MOVE_WITHIN')
      and (before_group <> nationality_group or before_sex <> sex)
    union all
    -- a change of sex alone, into its new key (also a KEY_CHANGE_IN/OUT pair above)
    select nationality_group, sex, 'SEX_ONLY', sign from in_period
    where status = 'current' and before_status = 'current'
      and event_type not in ('MOVE_WITHIN')
      and before_group = nationality_group and before_sex <> sex
),
tallied as (
    select nationality_group, sex,
           coalesce(sum(sign) filter (movement = 'MOVE_IN'), 0)::bigint as moved_in_domestic,
           coalesce(sum(sign) filter (movement = 'RETURN_FROM_ABROAD'), 0)::bigint as moved_in_abroad,
           coalesce(sum(sign) filter (movement = 'BIRTH'), 0)::bigint as births,
           coalesce(sum(sign) filter (movement in ('ENTRY_BY_AUTHORITY', 'KEY_CHANGE_IN')), 0)::bigint
             as other_additions,
           -- a 転出確定 replaces its plan: one move-out, on the actual date
           coalesce(sum(sign) filter (movement in ('MOVE_OUT', 'MOVE_OUT_CONFIRMED')), 0)::bigint
             as moved_out_domestic,
           coalesce(sum(sign) filter (movement = 'MOVE_ABROAD'), 0)::bigint as moved_out_abroad,
           coalesce(sum(sign) filter (movement = 'DEATH'), 0)::bigint as deaths,
           coalesce(sum(sign) filter (movement in ('REMOVAL_BY_AUTHORITY', 'KEY_CHANGE_OUT')), 0)::bigint
             as other_removals,
           coalesce(sum(sign) filter (movement = 'MOVE_WITHIN'), 0)::bigint as moves_within,
           coalesce(sum(sign) filter (movement = 'SEX_ONLY'), 0)::bigint as sex_only_changes
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
       moves_within, sex_only_changes
from tallied
order by nationality_group, sex
