-- residents at the end of $as_of as the register knows it now, with the name of their 世帯主 and what the
-- convenience-store copy needs to leave some of them out (the caller drops them and counts them).
-- grain: one row per resident on that day.
with on_day as (
    select *
    from resident_version
    where recorded_to is null
      and status = 'current'
      and valid_from <= $as_of
      and (valid_to is null or valid_to > $as_of)
),
planned_move_out as (
    -- 転出予定者: a move-out already notified on $as_of that takes effect after it
    select distinct v.resident_code
    from resident_version as v
    join event as e on e.event_id = v.event_id
    where v.recorded_to is null
      and v.event_type in ('MOVE_OUT', 'MOVE_ABROAD')
      and v.valid_from > $as_of
      and e.notified_date <= $as_of
),
heads as (
    -- a household has at most one 世帯主 (rule HOUSEHOLD_HAS_HEAD); two kept from before the rule name nobody
    -- rather than a guess (they are listed by `juki audit households`)
    select household_id,
           case when count(*) = 1 then any_value(family_name || '　' || given_name) end as head_of_household_name
    from on_day
    where relationship = '世帯主'
    group by household_id
)
-- only the 住民票コード in force: a person given a new one (RESIDENT_CODE_CHANGE) is shown by it alone
select d.* replace (coalesce(d.new_resident_code, d.resident_code) as resident_code),
       h.head_of_household_name,
       p.resident_code is not null as planned_move_out
from on_day as d
left join heads as h on h.household_id = d.household_id
left join planned_move_out as p on p.resident_code = d.resident_code
order by resident_code
