-- a canonical digest of what the register knows now: independent of storage order and of
-- when (recorded_from/recorded_to) it was written, so a replay can prove the same state.
-- grain: one row, one digest over one hash per resident version.
with rows as (
    select sha256(cast(to_json(row(resident_code, version_no, valid_from, valid_to, status, event_id, event_type,
                            my_number, household_id, relationship, family_name, given_name,
                            family_name_kana, given_name_kana, alias_name, birth_date, sex, nationality,
                            town_code, address_line, resident_since, address_since, address_notified_date,
                            prev_address, dest_address, honseki, hittousha, residence_status,
                            residence_card_no, stay_expiry_date, foreign_resident_category,
                            support_measure)) as varchar)) as row_hash
    from resident_version
    where recorded_to is null
)
select sha256(coalesce(string_agg(row_hash, '' order by row_hash), '')) as register_sha256,
       count(*) as versions
from rows
