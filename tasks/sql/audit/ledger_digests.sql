-- digests of the accepted events and the refused rows without their write times (recorded_at): a replay
-- proves it accepted and refused the same rows, under the same deliveries and runs, marked cancelled alike.
-- columns by name, so a store migrated by ALTERs (other column order) digests the same.
-- grain: one row.
with events as (
    select sha256(cast(to_json(row(event_id, event_type, effective_date, notified_date, resident_code, my_number,
                                   household_id, relationship, family_name, given_name, family_name_kana,
                                   given_name_kana, alias_name, birth_date, sex, nationality, town_code,
                                   address_line, address_since, prev_address, dest_address, honseki, hittousha,
                                   residence_status, residence_card_no, stay_expiry_date,
                                   foreign_resident_category, support_measure, cancels_event_id, business_date,
                                   delivery_no, file_sha256, line, run_id, cancelled_by)) as varchar)
                  -- columns added after version 1 count only when given (a version-1 ledger digests as before)
                  || case when coalesce(former_surname, stay_period) is null then ''
                          else cast(to_json(row(former_surname, stay_period)) as varchar) end
                  || case when new_resident_code is null then '' else cast(to_json(row(new_resident_code)) as varchar) end) as row_hash
    from event
),
refused as (
    select sha256(cast(to_json(row(delivery_no, file_name, file_sha256, line, event_id, resident_code, rule_ids,
                                   messages, raw_row, run_id)) as varchar)) as row_hash
    from quarantine
)
select (select sha256(coalesce(string_agg(row_hash, '' order by row_hash), '')) from events) as event_sha256,
       (select count(*) from events) as events,
       (select sha256(coalesce(string_agg(row_hash, '' order by row_hash), '')) from refused) as quarantine_sha256,
       (select count(*) from refused) as refused_rows
