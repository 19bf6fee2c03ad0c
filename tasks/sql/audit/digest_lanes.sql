-- the register digest's sums: the row count and each row hash cut into four 64-bit lanes, each lane
-- summed as an exact integer (order-independent, so a batch adjusts them by the rows it closes and adds).
-- grain: one row. expects the relation `hashed` (row_hash, sign: +1 a row counted, -1 a row taken away).
select coalesce(sum(sign), 0) as row_count,
       coalesce(sum(sign * cast(('0x' || substr(row_hash, 1, 16)) as ubigint)::hugeint), 0) as lane_0,
       coalesce(sum(sign * cast(('0x' || substr(row_hash, 17, 16)) as ubigint)::hugeint), 0) as lane_1,
       coalesce(sum(sign * cast(('0x' || substr(row_hash, 33, 16)) as ubigint)::hugeint), 0) as lane_2,
       coalesce(sum(sign * cast(('0x' || substr(row_hash, 49, 16)) as ubigint)::hugeint), 0) as lane_3
from hashed
