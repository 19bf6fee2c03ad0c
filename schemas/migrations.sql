-- bring a store written by an earlier juki up to the current schema; each statement is idempotent.
alter table file_ledger add column if not exists unused_values bigint default 0;
alter table file_ledger add column if not exists extra_columns varchar[];
alter table run_ledger add column if not exists register_sha256 varchar;
-- the register digest kept up to date per batch (tasks/audit.py): one row, the row count and the four lane
-- sums of the current versions' row hashes; filled from the register on first use in a store without it.
create table if not exists register_digest_state (
    row_count bigint not null,
    lane_0 hugeint not null,
    lane_1 hugeint not null,
    lane_2 hugeint not null,
    lane_3 hugeint not null
);
alter table event add column if not exists former_surname varchar;
alter table event add column if not exists stay_period varchar;
alter table resident_version add column if not exists former_surname varchar;
alter table resident_version add column if not exists stay_period varchar;
-- 住民票コードの変更 (RESIDENT_CODE_CHANGE): the new code on the event and on the versions it is in force for
alter table event add column if not exists new_resident_code varchar;
alter table resident_version add column if not exists new_resident_code varchar;
