-- one hash per resident version as the register knew it at $known_at (utc; null = now): the replay names
-- the residents whose records differ, and the sha-256 of these hashes sorted and joined is the register
-- digest (tasks/audit.py).
-- grain: one row per resident version.
select resident_code,
       sha256(cast(to_json(row(resident_code, version_no, valid_from, valid_to, status, event_id, event_type,
                               my_number, household_id, relationship, family_name, given_name,
                               family_name_kana, given_name_kana, alias_name, birth_date, sex, nationality,
                               town_code, address_line, resident_since, address_since, address_notified_date,
                               prev_address, dest_address, honseki, hittousha, residence_status,
                               residence_card_no, stay_expiry_date, foreign_resident_category,
                               support_measure)) as varchar)) as row_hash
from resident_version
where case when cast($known_at as timestamp) is null then recorded_to is null
           else recorded_from <= cast($known_at as timestamp)
                and (recorded_to is null or recorded_to > cast($known_at as timestamp)) end
