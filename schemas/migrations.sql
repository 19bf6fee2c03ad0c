-- bring a store written by an earlier juki up to the current schema; each statement is idempotent.
alter table file_ledger add column if not exists unused_values bigint default 0;
alter table file_ledger add column if not exists extra_columns varchar[];
alter table run_ledger add column if not exists register_sha256 varchar;
