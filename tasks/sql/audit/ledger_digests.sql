-- digests of the accepted events and the refused rows without their write times (recorded_at): a replay
-- proves it accepted and refused the same rows, under the same deliveries and runs, marked cancelled alike.
-- grain: one row.
with events as (
    select sha256(cast(to_json(e) as varchar)) as row_hash
    from (select * exclude (recorded_at) from event) as e
),
refused as (
    select sha256(cast(to_json(q) as varchar)) as row_hash
    from (select * exclude (recorded_at) from quarantine) as q
)
select (select sha256(coalesce(string_agg(row_hash, '' order by row_hash), '')) from events) as event_sha256,
       (select count(*) from events) as events,
       (select sha256(coalesce(string_agg(row_hash, '' order by row_hash), '')) from refused) as quarantine_sha256,
       (select count(*) from refused) as refused_rows
