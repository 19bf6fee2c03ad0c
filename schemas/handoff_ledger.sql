-- what was handed to whom, and when: the audit trail of every hand-off (連携) to a subscriber.
-- no personal data: digests, counts and names only.

-- one row per publish: one snapshot of a latest_snapshot subscriber, or one file of a change feed
create table if not exists handoff_ledger (
    subscriber        varchar not null,
    mode              varchar not null,      -- latest_snapshot | change_feed
    target            varchar not null,      -- the target URI, without any user or password
    sequence_no       bigint not null,       -- snapshot_id (latest_snapshot) or the feed's sequence number
    previous_no       bigint,                -- the one before it on that target; null for the first
    as_of             date,                  -- latest_snapshot: the as-of date
    business_date     date,                  -- change_feed: the business date of the events it carries
    rows              bigint not null,
    file_name         varchar not null,      -- the data file's name inside the target
    file_sha256       varchar not null,      -- of the data file as written (encrypted or not)
    data_sha256       varchar not null,      -- of the Parquet bytes before encryption (deterministic)
    encryption        varchar not null,      -- AES-256-GCM | none
    excluded          json,                  -- latest_snapshot: residents left out, counted by reason
    published_at      timestamp not null,    -- UTC
    run_id            varchar not null
);
