-- state rules of one change file against the register.
-- grain: one row per (line, rule_id) broken.
-- expects the relation `incoming` (line, event_id, event_type, resident_code, cancels_event_id).
-- the register is read only for the ids and codes the file names (semi joins first), so the cost follows the file.
with file_ids as (
    select distinct event_id from incoming where event_id is not null
),
target_ids as (
    select distinct cancels_event_id as event_id from incoming where cancels_event_id is not null
),
known as (
    -- the register's events the file names by id, read once. the file's own ids and the ids its CANCEL rows
    -- name are looked up apart, each within its range of ids: where ids grow with time (the generator's
    -- E<date>-<n>) the zone maps then skip every row group of other days, and a day's new ids read none.
    -- the row id keeps one row per stored event where an id is of both kinds.
    select event_id, resident_code, event_type, cancelled_by
    from (
        select e.rowid as stored_row, e.event_id, e.resident_code, e.event_type, e.cancelled_by
        from event as e
        semi join file_ids as n on n.event_id = e.event_id
        where e.event_id between (select min(event_id) from file_ids) and (select max(event_id) from file_ids)
        union
        select e.rowid, e.event_id, e.resident_code, e.event_type, e.cancelled_by
        from event as e
        semi join target_ids as n on n.event_id = e.event_id
        where e.event_id between (select min(event_id) from target_ids) and (select max(event_id) from target_ids)
    )
),
occurrences as (
    select line, row_number() over (partition by event_id order by line) as occurrence
    from incoming
    where event_id is not null
),
duplicate_event_id as (
    select i.line, 'DUPLICATE_EVENT_ID' as rule_id
    from incoming as i
    join occurrences as o using (line)
    where o.occurrence > 1
       or exists (select 1 from known as e where e.event_id = i.event_id)
),
baseline_first as (
    select line, 'BASELINE_FIRST' as rule_id
    from incoming
    where event_type is distinct from 'BASELINE'
      and not exists (select 1 from file_ledger where status = 'applied' and has_baseline)
),
issued as (
    -- a code a RESIDENT_CODE_CHANGE issued names its person (the code the register first knew them by)
    select e.new_resident_code as code, any_value(e.resident_code) as person
    from event as e
    semi join incoming as i on i.resident_code = e.new_resident_code
    where e.event_type = 'RESIDENT_CODE_CHANGE' and e.cancelled_by is null
    group by e.new_resident_code
),
cancels as (
    -- the target is in the ledger, or an earlier row of this file (judged again when applied)
    select i.line, coalesce(p.person, i.resident_code) as resident_code,
           coalesce(e.event_id, f.event_id) as target_id,
           coalesce(e.resident_code, f.resident_code) as target_resident,
           coalesce(e.event_type, f.event_type) as target_type,
           e.cancelled_by
    from incoming as i
    left join issued as p on p.code = i.resident_code
    left join known as e on e.event_id = i.cancels_event_id
    left join (select event_id, any_value(resident_code) as resident_code, any_value(event_type) as event_type,
                      min(line) as line
               from incoming group by event_id) as f
           on f.event_id = i.cancels_event_id and f.line < i.line
    where i.event_type = 'CANCEL' and i.cancels_event_id is not null
),
cancel_rules as (
    select line, 'CANCEL_TARGET_UNKNOWN' as rule_id from cancels
    where target_id is null
    union all
    select line, 'CANCEL_TARGET_OTHER_PERSON' from cancels
    where target_id is not null and target_resident is distinct from resident_code
    union all
    select line, 'CANCEL_TARGET_CANCELLED' from cancels
    where cancelled_by is not null
    union all
    select line, 'CANCEL_TARGET_IS_CANCEL' from cancels
    where target_type = 'CANCEL'
)
select * from duplicate_event_id
union all select * from baseline_first
union all select * from cancel_rules
order by line, rule_id
