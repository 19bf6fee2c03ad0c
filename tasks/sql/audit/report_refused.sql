-- the audit report: refused change rows of the files received in the period, counted by rule id
-- (a row refused for two reasons counts under both). counts only: no row, name, code or number.
-- grain: one row per rule id.
with period_files as (
    select delivery_no
    from file_ledger
    where coalesce(business_date, cast(received_at as date))
          between coalesce(cast($date_from as date), date '0001-01-01') and coalesce(cast($date_to as date), date '9999-12-31')
)
select rule_id,
       count(*) as rows,
       count(distinct delivery_no) as files
from (select delivery_no, unnest(rule_ids) as rule_id
      from quarantine
      where delivery_no in (select delivery_no from period_files))
group by rule_id
order by rows desc, rule_id
