-- grain: one row per seal of the ledger chain, in the order sealed, with the rows it covers.
select seq,
       run_id,
       previous_sha256,
       content_sha256,
       chain_sha256,
       run_rows,
       file_rows,
       handoff_rows,
       disclosure_rows,
       covered,
       sealed_at
from ledger_chain
order by seq
