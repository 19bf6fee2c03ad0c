-- one row per refused row of the deliveries being purged: its raw text (the only place a refused row's values
-- live) becomes '' (raw_row is not null) and purged_by names the run. expects `purging` (delivery_no).
update quarantine
set raw_row = '', purged_by = $run_id
where purged_by is null
  and delivery_no in (select delivery_no from purging)
