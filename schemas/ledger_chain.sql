-- the ledger chain: a tamper-evident hash chain over the audit ledgers (run_ledger, file_ledger,
-- handoff_ledger, disclosure_log), written by tasks/chain.py. each seal covers the ledger rows no earlier
-- seal covers, by key and a digest over every column (tasks/sql/audit/chain_rows.sql); its hash links it to
-- the seal before; every new head is also appended to ledger-anchors.jsonl beside the store, outside it.
-- event, resident_version and quarantine are not chained: retention nulls their personal columns, and the
-- register digest of the run ledger covers them. no personal data: keys, run ids, digests and counts.

-- one row per seal
create table if not exists ledger_chain (
    seq              bigint primary key,     -- 1, 2, 3 … in the order sealed
    run_id           varchar,                -- the run that sealed; null for a seal outside a run (a reveal)
    previous_sha256  varchar not null,       -- chain_sha256 of seal seq - 1; 64 zeros for the first seal
    content_sha256   varchar not null,       -- sha-256 of the seal's content: seq, run_id, sealed_at, the counts
                                             -- and every covered row's (ledger, key, run, digest)
    chain_sha256     varchar not null,       -- sha-256 of previous_sha256 || content_sha256 (hex text): the head
    run_rows         bigint not null,        -- run_ledger rows this seal covers
    file_rows        bigint not null,        -- file_ledger rows this seal covers
    handoff_rows     bigint not null,        -- handoff_ledger rows this seal covers
    disclosure_rows  bigint not null,        -- disclosure_log rows this seal covers
    covered          struct(ledger varchar, row_key varchar, run_id varchar, row_sha256 varchar)[] not null,
    sealed_at        timestamp not null      -- UTC
);

-- a seal being made: written and committed before its anchor line, moved into ledger_chain after it. a row
-- here whose head the anchor file holds is an interrupted seal the next seal completes (the same row, so the
-- same head); one the anchor file does not hold was never anchored and is dropped. at most one row.
create table if not exists ledger_chain_pending as select * from ledger_chain limit 0;
