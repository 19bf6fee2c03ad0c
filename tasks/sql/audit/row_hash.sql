-- the hash of one resident version (every column but the recorded_from/recorded_to times), as hex sha-256.
-- columns added after version 1 of the agreement count only when given, so a version-1 register digests as before.
sha256(cast(to_json(row(resident_code, version_no, valid_from, valid_to, status, event_id, event_type,
                        my_number, household_id, relationship, family_name, given_name,
                        family_name_kana, given_name_kana, alias_name, birth_date, sex, nationality,
                        town_code, address_line, resident_since, address_since, address_notified_date,
                        prev_address, dest_address, honseki, hittousha, residence_status,
                        residence_card_no, stay_expiry_date, foreign_resident_category,
                        support_measure)) as varchar)
       || case when coalesce(former_surname, stay_period) is null then ''
               else cast(to_json(row(former_surname, stay_period)) as varchar) end
       || case when new_resident_code is null then '' else cast(to_json(row(new_resident_code)) as varchar) end)
