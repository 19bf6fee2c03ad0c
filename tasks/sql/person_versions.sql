-- one person's record versions as the register knows them now (or knew them at $known_at, utc).
-- grain: one row per resident version, in 履歴番号 order.
select *
from resident_version
where resident_code = $resident_code
  and (case when cast($known_at as timestamp) is null then recorded_to is null
              else recorded_from <= cast($known_at as timestamp)
                   and (recorded_to is null or recorded_to > cast($known_at as timestamp)) end)
order by version_no
