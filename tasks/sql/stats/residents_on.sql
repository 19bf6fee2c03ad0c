-- residents at the end of $as_of as the register knows it now (or knew it at $known_at, utc),
-- with their age and keys.
-- grain: one row per resident on that day.
with on_day as (
    -- only the columns the tables use: this runs over every current version
    select resident_code, household_id, relationship, resident_since, town_code, sex, nationality, birth_date
    from resident_version
    where (case when cast($known_at as timestamp) is null then recorded_to is null
                else recorded_from <= cast($known_at as timestamp)
                     and (recorded_to is null or recorded_to > cast($known_at as timestamp)) end)
      and status = 'current'
      and valid_from <= $as_of
      and (valid_to is null or valid_to > $as_of)
),
aged as (
    select *,
           -- whole years; a 29 february birthday is reached on 28 february in common years
           year($as_of) - year(birth_date)
             - case when month($as_of) * 100 + day($as_of)
                         < month(birth_date) * 100 + day(birth_date)
                           - case when month(birth_date) = 2 and day(birth_date) = 29
                                       and not (year($as_of) % 4 = 0
                                                and (year($as_of) % 100 <> 0 or year($as_of) % 400 = 0))
                                  then 1 else 0 end
                    then 1 else 0 end as age
    from on_day
)
select *,
       case when age >= 100 then '100+'
            else cast(age // 5 * 5 as varchar) || '-' || cast(age // 5 * 5 + 4 as varchar) end as age_group,
       least(age // 5, 20) as age_group_order,
       case when nationality = 'JP' then 'japanese' else 'foreign' end as nationality_group
from aged
