-- residents at the end of $as_of as the register knows it now, with the name of their 世帯主 (tasks/sql/household_heads.sql:
-- declared, or the only member by authority, whose 続柄 then reads 世帯主) and what the
-- convenience-store copy needs to leave some of them out (the caller drops them and counts them), and for each
-- reason whether anyone of their household has it (the caller marks those households' certificates blocked).
-- grain: one row per resident on that day, in no order (the callers sort what they keep: a sort here sorted every
-- resident with every column once more before the snapshot's own sort).
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
household_flags as (
    -- narrow, one row per household: the wide rows are read once and never joined back to themselves
    select v.household_id,
           coalesce(bool_or(v.support_measure), false) as household_support_measure,
           bool_or(p.resident_code is not null) as household_planned_move_out
    from resident_version as v
    left join planned_move_out as p on p.resident_code = v.resident_code
    where v.recorded_to is null
      and v.status = 'current'
      and v.valid_from <= $as_of
      and (v.valid_to is null or v.valid_to > $as_of)
    group by v.household_id
)
-- only the 住民票コード in force: a person given a new one (RESIDENT_CODE_CHANGE) is shown by it alone
select d.* replace (coalesce(d.new_resident_code, d.resident_code) as resident_code,
                   case when h.head_basis = 'by_authority' then '世帯主' else d.relationship end as relationship),
       h.head_name as head_of_household_name,
       p.resident_code is not null as planned_move_out,
       f.household_support_measure,
       f.household_planned_move_out
from on_day as d
left join household_heads($as_of) as h on h.household_id = d.household_id
left join planned_move_out as p on p.resident_code = d.resident_code
left join household_flags as f on f.household_id is not distinct from d.household_id
