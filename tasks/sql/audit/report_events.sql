-- the audit report: accepted change rows (events) of business dates $date_from..$date_to, counted by type.
-- grain: one row per event type.
select event_type,
       count(*) as recorded,
       count(cancelled_by) as cancelled_later,
       count(*) - count(cancelled_by) as in_force,
       min(effective_date) as first_effective,
       max(effective_date) as last_effective
from event
where business_date between coalesce(cast($date_from as date), date '0001-01-01')
                        and coalesce(cast($date_to as date), date '9999-12-31')
group by event_type
order by recorded desc, event_type
