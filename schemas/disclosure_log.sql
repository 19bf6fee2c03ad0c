-- the disclosure log (提供記録): one row every time a full My Number (個人番号) leaves the register,
-- in a subscriber's data file or through an explicit reveal. never holds a My Number itself.

create table if not exists disclosure_log (
    disclosure_no   bigint primary key,    -- 1, 2, 3 … in the order they were written
    disclosed_at    timestamp not null,    -- UTC
    channel         varchar not null,      -- publish (a subscriber's data file) | reveal (juki show --reveal)
    who             varchar not null,      -- the subscriber's name, or the OS user who asked for a reveal
    persons         bigint not null,       -- publish: rows of the file (each carries one person's My Number);
                                           -- reveal: 1, or 0 when the register holds no My Number for that person
    why             varchar not null,      -- the reason given for a reveal, or the subscriber's purpose
    file_name       varchar,               -- publish: the data file's name inside the target
    sequence_no     bigint,                -- publish: snapshot_id or the feed's sequence number
    resident_code   varchar,               -- reveal: whose record was shown (住民票コード, not a My Number)
    run_id          varchar                -- publish: the run that published; reveal: null
);
