-- the balance file of a statistics date: residents at the end of $date_before (the previous statistics date)
-- as the register knew them when that date's files were written ($known_before, utc; null: as known now), the
-- movements counted since (balance_movements.sql), residents at the end of $date_to as known now;
-- residents_before + net_change = residents_after in every row when the register balances.
-- expects the relation movement_table (balance_movements.sql for the same parameters).
-- grain: one row per (nationality_group, sex) with any non-zero value.
with current_versions as (
    select resident_code, valid_from, valid_to, status, sex,
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
late as (
    -- the residents whose record changed after $known_before: only theirs differ between the two states
    select distinct resident_code from resident_version
    where recorded_from > cast($known_before as timestamp) or recorded_to > cast($known_before as timestamp)
),
late_before as (
    -- at the end of $date_before, the late residents as known at $known_before less as known now
    select case when nationality = 'JP' then 'japanese' else 'foreign' end as nationality_group, sex,
           case when recorded_from <= cast($known_before as timestamp) then 1 else 0 end
             - case when recorded_to is null then 1 else 0 end as sign
    from resident_version
    semi join late using (resident_code)
    where (recorded_to is null or recorded_to > cast($known_before as timestamp))
      and status = 'current'
      and valid_from <= $date_before
      and (valid_to is null or valid_to > $date_before)
),
known_before as (
    select nationality_group, sex, sum(sign)::bigint as correction
    from late_before
    group by nationality_group, sex
),
keys as (
    select nationality_group, sex from residents
    union
    select nationality_group, sex from known_before
    union
    select nationality_group, sex from movement_table
),
balanced as (
    select k.nationality_group, k.sex,
           cast(cast($date_from as date) as varchar) as period_from,
           cast(cast($date_to as date) as varchar) as period_to,
           coalesce(r.residents_before, 0) + coalesce(b.correction, 0) as residents_before,
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
           coalesce(m.sex_only_changes, 0) as sex_only_changes,
           coalesce(r.residents_after, 0) as residents_after
    from keys as k
    left join residents as r using (nationality_group, sex)
    left join known_before as b using (nationality_group, sex)
    left join movement_table as m using (nationality_group, sex)
)
select * from balanced
-- a late cancellation can make a count negative and its sums zero: any non-zero column keeps the row
where residents_before <> 0 or residents_after <> 0 or moved_in_domestic <> 0 or moved_in_abroad <> 0
   or births <> 0 or other_additions <> 0 or moved_out_domestic <> 0 or moved_out_abroad <> 0 or deaths <> 0
   or other_removals <> 0 or moves_within <> 0 or sex_only_changes <> 0
order by nationality_group, sex
