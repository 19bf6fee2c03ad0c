-- what each output has taken from the register, and publishes begun but not yet settled (tasks/publish.py).
-- no personal data: names, numbers and digests only.

-- one row per move of one output's watermark; the newest row per (output, target) is where it stands.
-- an output is `statistics`, `feed:<subscriber>` or `snapshot:<subscriber>`; delivery_no is the newest
-- applied delivery (file_ledger) the output now reflects. written in the same transaction as the
-- handoff_ledger row (and disclosure_log row) that records the delivery, so the two cannot disagree.
create table if not exists publish_watermark (
    output          varchar not null,
    target          varchar not null,      -- the target URI without user or password; the stats folder
    delivery_no     bigint not null,
    business_date   date,                  -- the business date of that delivery
    run_id          varchar not null,      -- the run that moved it
    moved_at        timestamp not null     -- UTC
);

-- one row per hand-off file being written: committed before the file that makes it visible to the
-- subscriber (a snapshot's manifest.json, a feed file's header) is put; settled by the same transaction that
-- writes its handoff_ledger row, or on the next run: delivered when the target names the file, else undone.
create table if not exists handoff_intent (
    subscriber      varchar not null,
    target          varchar not null,
    sequence_no     bigint not null,
    delivery_no     bigint not null,       -- the newest applied delivery the file reflects
    header          json not null,         -- the manifest or feed header the file is published with
    run_id          varchar not null,
    created_at      timestamp not null     -- UTC
);

-- one row per writing of one date's statistics files: the register's knowledge they were written with, the
-- newest applied delivery (file_ledger) and its received_at, which is the recorded_from of the versions it
-- wrote. the newest row per (target, business_date) is what the files on the target hold: the next date's
-- balance file starts from it (residents as known then, the movements known since). written in the same
-- transaction as the statistics watermark's move of that date, when it moves.
create table if not exists statistics_written (
    target          varchar not null,      -- the stats folder, as publish_watermark has it
    business_date   date not null,
    delivery_no     bigint not null,
    known_at        timestamp not null,    -- UTC, the register's recorded_from axis
    run_id          varchar not null
);
