-- what was sent in each change-feed file and what the receivers answered about it (tasks/receipts.py).
-- no personal data: subscriber names, numbers, event ids and the receivers' error codes only.

-- one row per row of a feed file: written with the file's handoff_intent (deleted if the publish is undone),
-- so the entries of every delivered file are known without reading the encrypted file again.
create table if not exists feed_entry (
    subscriber      varchar not null,
    sequence_no     bigint not null,
    entry_no        bigint not null,
    event_id        varchar not null,
    resent          boolean not null        -- a row re-sent because the receiver answered an error for it
);

-- one row per answered row of a feed file: accepted or error, from a receipt file in the target's
-- receipts/ folder (or a test receiver's function). the first answer to a row stands.
create table if not exists feed_receipt (
    subscriber      varchar not null,
    sequence_no     bigint not null,
    entry_no        bigint not null,
    event_id        varchar not null,
    result          varchar not null,       -- accepted | error
    error_code      varchar,                -- the receiver's code, at most 100 characters
    receipt_file    varchar not null,       -- the file's name (or `function`), as imported
    receipt_sha256  varchar not null,
    run_id          varchar not null,       -- the run that imported it (the replay imports it there again)
    received_at     timestamp not null      -- UTC
);

-- one row per erred row re-sent: the error answered for (subscriber, sequence_no, entry_no) went again in
-- file resent_in. written in the transaction that settles that file, so an error is re-sent exactly once.
create table if not exists feed_resend (
    subscriber      varchar not null,
    sequence_no     bigint not null,
    entry_no        bigint not null,
    event_id        varchar not null,
    resent_in       bigint not null,
    run_id          varchar not null
);
