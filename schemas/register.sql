-- the register (住民基本台帳) in duckdb: ledger first, everything else a projection of it.
-- codes stay text everywhere (town_code '0045' is not a number).

-- one row per received file delivery (a duplicate delivery gets its own row)
create table if not exists file_ledger (
    delivery_no        bigint primary key,
    file_name          varchar not null,
    file_sha256        varchar not null,
    business_date      date,
    encoding           varchar,
    status             varchar not null,      -- applied | duplicate | refused
    reason             varchar,               -- why a file was refused (no personal data)
    rows_read          bigint not null,
    rows_applied       bigint not null,
    rows_quarantined   bigint not null,
    rows_skipped       bigint not null,
    has_baseline       boolean not null,
    unused_values      bigint not null,       -- values in columns their event type does not use (ignored)
    extra_columns      varchar[],             -- header names outside the agreement (ignored)
    run_id             varchar not null,
    received_at        timestamp not null
);

-- one row per accepted change row; never updated except to mark cancelled_by
create table if not exists event (
    event_id                  varchar not null,
    event_type                varchar not null,
    effective_date            date not null,
    notified_date             date not null,
    resident_code             varchar not null,
    my_number                 varchar,
    household_id              varchar,
    relationship              varchar,
    family_name               varchar,
    given_name                varchar,
    family_name_kana          varchar,
    given_name_kana           varchar,
    alias_name                varchar,
    birth_date                date,
    sex                       varchar,
    nationality               varchar,
    town_code                 varchar,
    address_line              varchar,
    address_since             date,
    prev_address              varchar,
    dest_address              varchar,
    honseki                   varchar,
    hittousha                 varchar,
    residence_status          varchar,
    residence_card_no         varchar,
    stay_expiry_date          date,
    foreign_resident_category varchar,
    support_measure           varchar,
    cancels_event_id          varchar,
    business_date             date not null,
    delivery_no               bigint not null,
    file_sha256               varchar not null,
    line                      bigint not null,
    run_id                    varchar not null,
    recorded_at               timestamp not null,
    cancelled_by              varchar,
    former_surname            varchar,               -- 旧氏 (columns added after version 1 of the agreement)
    stay_period               varchar,               -- 在留期間
    new_resident_code         varchar                -- the 住民票コード a RESIDENT_CODE_CHANGE issues
);

-- one row per version of one person's record (the standard's 履歴番号 rows), on two axes:
-- valid_from/valid_to on the effective-date axis (valid_to exclusive, null = open) and
-- recorded_from/recorded_to on the recorded-at axis (recorded_to null = what the register knows now)
create table if not exists resident_version (
    resident_code             varchar not null,
    version_no                integer not null,
    valid_from                date not null,
    valid_to                  date,
    recorded_from             timestamp not null,
    recorded_to               timestamp,
    status                    varchar not null,   -- current | removed
    event_id                  varchar not null,
    event_type                varchar not null,
    my_number                 varchar,
    household_id              varchar,
    relationship              varchar,
    family_name               varchar,
    given_name                varchar,
    family_name_kana          varchar,
    given_name_kana           varchar,
    alias_name                varchar,
    birth_date                date,
    sex                       varchar,
    nationality               varchar,
    town_code                 varchar,
    address_line              varchar,
    resident_since            date,
    address_since             date,
    address_notified_date     date,
    prev_address              varchar,
    dest_address              varchar,
    honseki                   varchar,
    hittousha                 varchar,
    residence_status          varchar,
    residence_card_no         varchar,
    stay_expiry_date          date,
    foreign_resident_category varchar,
    support_measure           boolean not null,
    former_surname            varchar,
    stay_period               varchar,
    -- the 住民票コード in force for this version when it is no longer resident_code (the person key: the code the
    -- register first knew them by, which keys every version and event of theirs; docs/decisions.md)
    new_resident_code         varchar
);

-- one row per refused change row, with every reason; raw_row stays inside the register
create table if not exists quarantine (
    delivery_no     bigint not null,
    file_name       varchar not null,
    file_sha256     varchar not null,
    line            bigint not null,
    event_id        varchar,
    resident_code   varchar,
    rule_ids        varchar[] not null,
    messages        varchar[] not null,
    raw_row         varchar not null,
    run_id          varchar not null,
    recorded_at     timestamp not null
);

-- one row per flow run
create table if not exists run_ledger (
    run_id          varchar primary key,
    flow_name       varchar not null,
    parameters      json,
    code_version    varchar,
    lock_sha256     varchar,
    input_sha256    varchar[],
    register_sha256 varchar,               -- canonical digest of the register after the run
    outputs         json,                  -- digests of statistics files and hand-off data files
    status          varchar not null,
    started_at      timestamp not null,
    finished_at     timestamp
);
