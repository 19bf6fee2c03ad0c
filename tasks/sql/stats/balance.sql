-- the balance identity: residents at the end of $date_to − residents at the end of $date_from − 1 =
-- net_change, per key, counted in one pass over the current versions (no copy of the register).
-- expects the relation movement_table (movements.sql for $date_from..$date_to).
-- grain: one row per (nationality_group, sex) where it does not hold.
with current_versions as (
    select case when nationality = 'JP' then 'japanese' else 'foreign' end as nationality_group, sex,
           valid_from <= $date_before and (valid_to is null or valid_to > $date_before) as before_day,
           valid_from <= $date_to and (valid_to is null or valid_to > $date_to) as after_day
    from resident_version
    where recorded_to is null
      and status = 'current'
      and valid_from <= $date_to
      and (valid_to is null or valid_to > $date_before)
),
residents as (
    select nationality_group, sex,
           count(*) filter (before_day) as residents_before,
           count(*) filter (after_day) as residents_after
    from current_versions
    group by nationality_group, sex
),
counts as (
    select nationality_group, sex,
           coalesce(r.residents_before, 0) as residents_before,
           coalesce(r.residents_after, 0) as residents_after,
           coalesce(m.net_change, 0) as net_change
    from residents as r
    full join movement_table as m using (nationality_group, sex)
)
select *, residents_after - residents_before as change_in_residents
from counts
where residents_after - residents_before <> net_change
order by nationality_group, sex
