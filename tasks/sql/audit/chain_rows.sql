-- grain: one row per row of a chained ledger (run_ledger, file_ledger, handoff_ledger, disclosure_log).
-- row_sha256 is a sha-256 over every column by name (a store migrated by ALTERs, other column order, digests
-- the same): to_json keeps a null apart from an empty string and writes json columns minified; timestamps
-- are spelled out to the microsecond. row_key names the row in its ledger (handoff_ledger has no primary
-- key: subscriber#sequence@target, which a reset target can repeat); final is false for a run still running.
with runs as (
    select 'run_ledger' as ledger,
           run_id as row_key,
           run_id,
           finished_at is not null as final,
           sha256(cast(to_json({'run_id': run_id, 'flow_name': flow_name, 'parameters': parameters,
                                'code_version': code_version, 'lock_sha256': lock_sha256,
                                'input_sha256': input_sha256, 'register_sha256': register_sha256,
                                'outputs': outputs, 'status': status,
                                'started_at': strftime(started_at, '%Y-%m-%dT%H:%M:%S.%f'),
                                'finished_at': strftime(finished_at, '%Y-%m-%dT%H:%M:%S.%f')}) as varchar))
               as row_sha256
    from run_ledger
),
files as (
    select 'file_ledger' as ledger,
           cast(delivery_no as varchar) as row_key,
           run_id,
           true as final,
           sha256(cast(to_json({'delivery_no': delivery_no, 'file_name': file_name, 'file_sha256': file_sha256,
                                'business_date': business_date, 'encoding': encoding, 'status': status,
                                'reason': reason, 'rows_read': rows_read, 'rows_applied': rows_applied,
                                'rows_quarantined': rows_quarantined, 'rows_skipped': rows_skipped,
                                'has_baseline': has_baseline, 'unused_values': unused_values,
                                'extra_columns': extra_columns, 'run_id': run_id,
                                'received_at': strftime(received_at, '%Y-%m-%dT%H:%M:%S.%f')}) as varchar))
               as row_sha256
    from file_ledger
),
handoffs as (
    select 'handoff_ledger' as ledger,
           subscriber || '#' || sequence_no || '@' || target as row_key,
           run_id,
           true as final,
           sha256(cast(to_json({'subscriber': subscriber, 'mode': mode, 'target': target,
                                'sequence_no': sequence_no, 'previous_no': previous_no, 'as_of': as_of,
                                'business_date': business_date, 'rows': rows, 'file_name': file_name,
                                'file_sha256': file_sha256, 'data_sha256': data_sha256, 'encryption': encryption,
                                'excluded': excluded,
                                'published_at': strftime(published_at, '%Y-%m-%dT%H:%M:%S.%f'),
                                'run_id': run_id}) as varchar)) as row_sha256
    from handoff_ledger
),
disclosures as (
    select 'disclosure_log' as ledger,
           cast(disclosure_no as varchar) as row_key,
           run_id,
           true as final,
           sha256(cast(to_json({'disclosure_no': disclosure_no,
                                'disclosed_at': strftime(disclosed_at, '%Y-%m-%dT%H:%M:%S.%f'),
                                'channel': channel, 'who': who, 'persons': persons, 'why': why,
                                'file_name': file_name, 'sequence_no': sequence_no,
                                'resident_code': resident_code, 'run_id': run_id}) as varchar)) as row_sha256
    from disclosure_log
)
select * from runs
union all
select * from files
union all
select * from handoffs
union all
select * from disclosures
order by ledger, row_key, row_sha256
