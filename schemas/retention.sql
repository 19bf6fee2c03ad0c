-- retention (保存期間): removed records (除票) are logically erased 150 years after removal, and the raw text of
-- refused rows is purged after the quarantine period. these tables are the proof of it; no personal data.

-- one row per erased resident (the tombstone): what is left to say that the record existed and was erased
create table if not exists erased_resident (
    resident_code   varchar primary key,
    removed_on      date not null,           -- valid_from of the removed version (the removal's effective date)
    as_of           date not null,           -- the retention run's as-of date
    years           integer not null,        -- the retention period applied
    versions        bigint not null,         -- resident_version rows whose personal columns were cleared
    events          bigint not null,         -- event rows whose personal columns were cleared
    run_id          varchar not null,
    erased_at       timestamp not null       -- UTC
);

-- one row per delivery and retention run whose refused rows lost their raw text
create table if not exists quarantine_purge (
    run_id          varchar not null,
    delivery_no     bigint not null,
    file_name       varchar not null,
    business_date   date,
    rows            bigint not null,
    as_of           date not null,
    quarantine_days integer not null,
    purged_at       timestamp not null       -- UTC
);

-- a purged refused row keeps its file, line, ids and rule ids; raw_row becomes '' (it is not null)
alter table quarantine add column if not exists purged_by varchar;
