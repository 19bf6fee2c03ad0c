-- the register digest's sums as the register knew it at each of $moments (utc), in one pass over the versions:
-- a version counts from the first moment at or after its recorded_from until the first moment at or after its
-- recorded_to, so a moment's sums are the running total of what entered and left up to it (the replay proves
-- every run's recorded history this way instead of recomputing the whole register once per run).
-- grain: one row per moment.
with moments as (
    select distinct unnest(cast($moments as timestamp[])) as known_at
),
lanes as materialized (
    select recorded_from, recorded_to,
           cast(('0x' || substr(row_hash, 1, 16)) as ubigint)::hugeint as lane_0,
           cast(('0x' || substr(row_hash, 17, 16)) as ubigint)::hugeint as lane_1,
           cast(('0x' || substr(row_hash, 33, 16)) as ubigint)::hugeint as lane_2,
           cast(('0x' || substr(row_hash, 49, 16)) as ubigint)::hugeint as lane_3
    from (select recorded_from, recorded_to, {row_hash} as row_hash from resident_version)
),
changes as (
    select recorded_from as changed_at, 1 as sign, lane_0, lane_1, lane_2, lane_3 from lanes
    union all
    select recorded_to, -1, lane_0, lane_1, lane_2, lane_3 from lanes where recorded_to is not null
),
per_moment as (
    select m.known_at, sum(c.sign) as row_count, sum(c.sign * c.lane_0) as lane_0,
           sum(c.sign * c.lane_1) as lane_1, sum(c.sign * c.lane_2) as lane_2, sum(c.sign * c.lane_3) as lane_3
    from changes as c
    asof join moments as m on c.changed_at <= m.known_at
    group by m.known_at
)
select m.known_at,
       sum(coalesce(p.row_count, 0)) over upto as row_count,
       sum(coalesce(p.lane_0, 0)) over upto as lane_0,
       sum(coalesce(p.lane_1, 0)) over upto as lane_1,
       sum(coalesce(p.lane_2, 0)) over upto as lane_2,
       sum(coalesce(p.lane_3, 0)) over upto as lane_3
from moments as m
left join per_moment as p using (known_at)
window upto as (order by m.known_at rows between unbounded preceding and current row)
order by m.known_at
