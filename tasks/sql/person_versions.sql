-- one person's record versions as the register knows them now.
-- grain: one row per resident version, in 履歴番号 order.
select *
from resident_version
where resident_code = $resident_code
  and recorded_to is null
order by version_no
