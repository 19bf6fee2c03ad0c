-- the balance of $date_from..$date_to as a file: residents at the end of $date_before (the day before
-- $date_from), the period's movements, the changes of sex alone into each key, residents at the end of
-- $date_to; residents_before + net_change = residents_after in every row when the register balances.
-- expects the relation movement_table (movements.sql for $date_from..$date_to).
-- grain: one row per (nationality_group, sex) with any non-zero value.
with current_versions as (
    select resident_code, version_no, valid_from, valid_to, event_type, status, sex,
           case when nationality = 'JP' then 'japanese' else 'foreign' end as nationality_group
    from resident_version
    where recorded_to is null
),
residents as (
    select nationality_group, sex,
           count(*) filter (valid_from <= $date_before
                            and (valid_to is null or valid_to > $date_before)) as residents_before,
           count(*) filter (valid_from <= $date_to and (valid_to is null or valid_to > $date_to)) as residents_after
    from current_versions
    where status = 'current'
      and valid_from <= $date_to
      and (valid_to is null or valid_to > $date_before)
    group by nationality_group, sex
),
changed as (
    -- the people with a version starting in the period: the window runs over their versions only
    select distinct resident_code from current_versions
    where valid_from between $date_from and $date_to and event_type <> 'BASELINE'
),
chained as (
    select valid_from, event_type, status, sex, nationality_group,
           lag(status) over person as before_status,
           lag(sex) over person as before_sex,
           lag(nationality_group) over person as before_group
    from current_versions
    semi join changed using (resident_code)
    window person as (partition by resident_code order by version_no)
),
sex_only as (
    -- counted by movements.sql as other_additions of this key and other_removals of the other sex
    select nationality_group, sex, count(*) as sex_only_changes
    from chained
    where valid_from between $date_from and $date_to
      and event_type not in ('BASELINE', 'MOVE_WITHIN')
      and status = 'current' and before_status = 'current'
      and before_group = nationality_group and before_sex <> sex
    group by nationality_group, sex
),
keys as (
    select nationality_group, sex from residents
    union
    select nationality_group, sex from movement_table
    union
    select nationality_group, sex from sex_only
),
balanced as (
    select k.nationality_group, k.sex,
           cast(cast($date_from as date) as varchar) as period_from,
           cast(cast($date_to as date) as varchar) as period_to,
           coalesce(r.residents_before, 0) as residents_before,
           coalesce(m.moved_in_domestic, 0) as moved_in_domestic,
           coalesce(m.moved_in_abroad, 0) as moved_in_abroad,
           coalesce(m.births, 0) as births,
           coalesce(m.other_additions, 0) as other_additions,
           coalesce(m.additions, 0) as additions,
           coalesce(m.moved_out_domestic, 0) as moved_out_domestic,
           coalesce(m.moved_out_abroad, 0) as moved_out_abroad,
           coalesce(m.deaths, 0) as deaths,
           coalesce(m.other_removals, 0) as other_removals,
           coalesce(m.removals, 0) as removals,
           coalesce(m.net_change, 0) as net_change,
           coalesce(m.natural_change, 0) as natural_change,
           coalesce(m.social_change, 0) as social_change,
           coalesce(m.moves_within, 0) as moves_within,
           coalesce(s.sex_only_changes, 0) as sex_only_changes,
           coalesce(r.residents_after, 0) as residents_after
    from keys as k
    left join residents as r using (nationality_group, sex)
    left join movement_table as m using (nationality_group, sex)
    left join sex_only as s using (nationality_group, sex)
)
select * from balanced
where residents_before <> 0 or residents_after <> 0 or additions <> 0 or removals <> 0
   or moves_within <> 0 or sex_only_changes <> 0
order by nationality_group, sex
