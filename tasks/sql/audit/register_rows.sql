-- one hash per resident version as the register knew it at $known_at (utc; null = now): the replay names
-- the residents whose records differ, and the register digest is computed from these hashes
-- (tasks/audit.py; the same row hash as tasks/sql/audit/row_hash.sql).
-- grain: one row per resident version.
select resident_code, {row_hash} as row_hash
from resident_version
where case when cast($known_at as timestamp) is null then recorded_to is null
           else recorded_from <= cast($known_at as timestamp)
                and (recorded_to is null or recorded_to > cast($known_at as timestamp)) end
