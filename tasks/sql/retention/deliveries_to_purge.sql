-- one row per delivery whose refused rows still hold their raw text past the quarantine period: the delivery's
-- business date is more than $quarantine_days days before $as_of (the business date, not the rows'
-- recorded_at: that is the run's wall clock, which a replay does not reproduce).
with waiting as (
    select delivery_no, count(*) as rows
    from quarantine
    where purged_by is null
    group by delivery_no
),

dated as (
    select w.delivery_no, f.file_name, f.business_date, w.rows
    from waiting as w
    join file_ledger as f using (delivery_no)
)

select delivery_no, file_name, business_date, rows
from dated
where business_date < cast($as_of as date) - cast($quarantine_days as integer)
order by delivery_no
