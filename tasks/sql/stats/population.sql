-- population (人口) at the end of $as_of.
-- grain: one row per (town_code, sex, age_group, nationality_group) with residents.
select town_code, sex, age_group, nationality_group, count(*) as residents
from residents_on
group by town_code, sex, age_group, age_group_order, nationality_group
order by town_code, sex, age_group_order, nationality_group
