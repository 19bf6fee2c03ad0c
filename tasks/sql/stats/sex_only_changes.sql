-- changes of sex alone (a correction) with effective_date in $date_from..$date_to: in a table not
-- split by sex they are neither 記載 nor 消除. grain: one row per nationality_group with any.
with versions as (
    select valid_from, event_type, status, sex,
           case when nationality = 'JP' then 'japanese' else 'foreign' end as nationality_group,
           lag(status) over person as before_status,
           lag(sex) over person as before_sex,
           lag(case when nationality = 'JP' then 'japanese' else 'foreign' end) over person as before_group
    from resident_version
    where recorded_to is null
    window person as (partition by resident_code order by version_no)
)
select nationality_group, count(*) as changes
from versions
where valid_from between $date_from and $date_to
  and status = 'current' and before_status = 'current'
  and before_group = nationality_group and before_sex <> sex
group by nationality_group
order by nationality_group
