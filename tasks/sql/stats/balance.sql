-- the balance identity: residents on $date_to − residents on $date_from − 1 = net_change, per key.
-- expects temp tables residents_before, residents_after and movement_table.
-- grain: one row per (nationality_group, sex) where it does not hold.
with keys as (
    select nationality_group, sex from residents_before
    union select nationality_group, sex from residents_after
    union select nationality_group, sex from movement_table
),
counts as (
    select k.nationality_group, k.sex,
           (select count(*) from residents_before as b
            where b.nationality_group = k.nationality_group and b.sex = k.sex) as residents_before,
           (select count(*) from residents_after as a
            where a.nationality_group = k.nationality_group and a.sex = k.sex) as residents_after,
           coalesce((select m.net_change from movement_table as m
                     where m.nationality_group = k.nationality_group and m.sex = k.sex), 0) as net_change
    from keys as k
)
select *, residents_after - residents_before as change_in_residents
from counts
where residents_after - residents_before <> net_change
order by nationality_group, sex
