-- the one definition of "the head of a household on a day", as the register knows it now: the 世帯主 declared
-- (a current version with relationship 世帯主), else, when the household's only member has no such version,
-- that member by authority (a household of one is headed by its member, recorded 職権) from the day the
-- household became one member. derived, never written as a version: a cancelled death or move-out undoes it by
-- itself, and it can never stand beside a declared head. two declared heads (kept from before rule
-- HOUSEHOLD_HAS_HEAD) name nobody rather than a guess. a temp table macro: tasks/heads.py defines it.
-- head_resident_code is the 住民票コード in force (a RESIDENT_CODE_CHANGE's new one).
-- grain: one row per household with a resident on the day; the head columns are null when it has no head;
-- by_authority_since only for head_basis 'by_authority'.
create or replace temp macro household_heads(on_date) as table
with on_day as (
    select resident_code, new_resident_code, household_id, relationship, family_name, given_name
    from resident_version
    where recorded_to is null
      and status = 'current'
      and valid_from <= on_date
      and (valid_to is null or valid_to > on_date)
),
households as (
    select household_id,
           count(*) as members,
           count(*) filter (where relationship = '世帯主') as declared_heads
    from on_day
    group by household_id
),
heads as (
    select h.household_id,
           h.members,
           h.declared_heads,
           d.resident_code as head_key,
           coalesce(d.new_resident_code, d.resident_code) as head_resident_code,
           d.family_name || '　' || d.given_name as head_name,
           case when h.declared_heads = 1 then 'declared' else 'by_authority' end as head_basis
    from households as h
    join on_day as d
      on d.household_id = h.household_id
     and ((h.declared_heads = 1 and d.relationship = '世帯主') or (h.declared_heads = 0 and h.members = 1))
),
since as (
    -- the later of: the last other member leaving (death, move-out, move to another household), the member's arrival
    select h.household_id,
           greatest(max(v.valid_to) filter (where v.resident_code <> h.head_key and v.valid_to <= on_date),
                    min(v.valid_from) filter (where v.resident_code = h.head_key)) as by_authority_since
    from heads as h
    join resident_version as v
      on v.household_id = h.household_id
     and v.recorded_to is null
     and v.status = 'current'
     and v.valid_from <= on_date
    where h.head_basis = 'by_authority'
    group by h.household_id
)
select h.household_id,
       h.members,
       h.declared_heads,
       x.head_resident_code,
       x.head_name,
       x.head_basis,
       s.by_authority_since
from households as h
left join heads as x on x.household_id = h.household_id
left join since as s on s.household_id = h.household_id
