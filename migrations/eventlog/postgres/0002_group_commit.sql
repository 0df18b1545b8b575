-- Group commit, and stream order in log order.
--
-- Log order is (transaction_id, position), and a transaction gets its id at its first write. If an
-- append could take its transaction id before waiting for its stream, it could hold an older id than
-- the append it waited for, and its event would sort before that one in the log: a stream's events
-- out of version order for every reader. So an append first takes its stream's advisory lock (which
-- needs no transaction id) and writes only then: its id is newer than that of every earlier append to
-- the stream. A batch takes all its streams' locks before its first write. An append must therefore be
-- the first write of its transaction, as it is when called alone or through lodge_append_batch.
--
-- The advisory lock replaces 0001's row lock on lodge_streams. Its key is (LOCK_CLASS, hashtext(stream))
-- with LOCK_CLASS = 1819239271 ('lodg'); two streams sharing a hash only wait for each other.

CREATE OR REPLACE FUNCTION lodge_append(
    p_stream_id       text,
    p_expected        bigint,
    p_command_id      uuid,
    p_fingerprint     bytea,
    p_event_ids       uuid[],
    p_event_types     text[],
    p_schema_versions integer[],
    p_data            text[],
    p_metadata        text,
    p_content_hashes  bytea[]
) RETURNS TABLE (duplicate boolean, first_version bigint, last_version bigint, last_position bigint, recorded_at timestamptz)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_previous  lodge_commands%ROWTYPE;
    v_version   bigint;
    v_first     bigint;
    v_hash      bytea;
    v_position  bigint;
    v_now       timestamptz := date_trunc('microseconds', now());
    v_micros    bigint;
BEGIN
    SELECT * INTO v_previous FROM lodge_commands c WHERE c.command_id = p_command_id;
    IF FOUND THEN
        IF v_previous.stream_id <> p_stream_id OR v_previous.fingerprint <> p_fingerprint THEN
            RAISE EXCEPTION 'command id % was already used', p_command_id
                USING ERRCODE = 'LG002', DETAIL = v_previous.stream_id;
        END IF;
        RETURN QUERY SELECT true, v_previous.first_version, v_previous.last_version,
                            v_previous.last_position, v_previous.recorded_at;
        RETURN;
    END IF;

    PERFORM pg_advisory_xact_lock(1819239271, hashtext(p_stream_id));
    -- Under READ COMMITTED this statement sees whatever the append we waited for committed.
    SELECT s.version, s.last_hash INTO v_version, v_hash FROM lodge_streams s WHERE s.stream_id = p_stream_id;
    IF NOT FOUND THEN
        v_version := 0;
        v_hash := decode(repeat('00', 32), 'hex');
    END IF;

    IF p_expected IS NOT NULL AND v_version <> p_expected THEN
        RAISE EXCEPTION 'stream % is at version %, not %', p_stream_id, v_version, p_expected
            USING ERRCODE = 'LG001', DETAIL = v_version::text;
    END IF;

    v_first := v_version + 1;
    v_micros := (extract(epoch FROM v_now) * 1000000)::bigint;
    FOR i IN 1 .. coalesce(array_length(p_event_ids, 1), 0) LOOP
        v_version := v_version + 1;
        v_hash := sha256(v_hash || int8send(v_version) || int8send(v_micros) || p_content_hashes[i]);
        INSERT INTO lodge_events (event_id, stream_id, stream_version, event_type, schema_version,
                                  data, metadata, recorded_at, hash)
            VALUES (p_event_ids[i], p_stream_id, v_version, p_event_types[i], p_schema_versions[i],
                    p_data[i]::json, p_metadata::json, v_now, v_hash)
            RETURNING position INTO v_position;
    END LOOP;

    INSERT INTO lodge_streams (stream_id, version, last_hash) VALUES (p_stream_id, v_version, v_hash)
        ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, last_hash = excluded.last_hash;
    INSERT INTO lodge_commands (command_id, stream_id, fingerprint, first_version, last_version, last_position, recorded_at)
        VALUES (p_command_id, p_stream_id, p_fingerprint, v_first, v_version, v_position, v_now);

    RETURN QUERY SELECT false, v_first, v_version, v_position, v_now;
END;
$$;

-- Group commit: several appends, to any streams, in one round trip and one transaction.
-- Each append runs in a subtransaction of its own (the BEGIN … EXCEPTION block), so that a version
-- conflict or a reused command id refuses that append alone; the others commit. All the streams'
-- locks are taken first, in key order, so that concurrent batches cannot deadlock.
--
-- Per append: p_stream_ids, p_expected, p_command_ids, p_fingerprints, p_metadata, p_event_counts.
-- Per event, all appends' events one after the other: p_event_ids … p_content_hashes.
-- One row per append: its outcome, or the SQLSTATE and detail of its refusal.
CREATE FUNCTION lodge_append_batch(
    p_stream_ids      text[],
    p_expected        bigint[],
    p_command_ids     uuid[],
    p_fingerprints    bytea[],
    p_metadata        text[],
    p_event_counts    integer[],
    p_event_ids       uuid[],
    p_event_types     text[],
    p_schema_versions integer[],
    p_data            text[],
    p_content_hashes  bytea[]
) RETURNS TABLE (ordinal integer, error_code text, error_detail text, duplicate boolean, first_version bigint,
                 last_version bigint, last_position bigint, recorded_at timestamptz)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_offset  integer := 0;
    v_last    integer;
    v_code    text;
    v_detail  text;
    r         record;
    v_key     integer;
BEGIN
    FOR v_key IN SELECT DISTINCT hashtext(s) FROM unnest(p_stream_ids) AS s ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock(1819239271, v_key);
    END LOOP;
    FOR i IN 1 .. coalesce(array_length(p_stream_ids, 1), 0) LOOP
        v_last := v_offset + p_event_counts[i];
        BEGIN
            SELECT * INTO r FROM lodge_append(
                p_stream_ids[i], p_expected[i], p_command_ids[i], p_fingerprints[i],
                p_event_ids[v_offset + 1 : v_last], p_event_types[v_offset + 1 : v_last],
                p_schema_versions[v_offset + 1 : v_last], p_data[v_offset + 1 : v_last],
                p_metadata[i], p_content_hashes[v_offset + 1 : v_last]);
            RETURN QUERY SELECT i, NULL::text, NULL::text, r.duplicate, r.first_version, r.last_version,
                                r.last_position, r.recorded_at;
        EXCEPTION WHEN SQLSTATE 'LG001' OR SQLSTATE 'LG002' OR unique_violation THEN
            GET STACKED DIAGNOSTICS v_code = RETURNED_SQLSTATE, v_detail = PG_EXCEPTION_DETAIL;
            RETURN QUERY SELECT i, v_code, v_detail, NULL::boolean, NULL::bigint, NULL::bigint, NULL::bigint,
                                NULL::timestamptz;
        END;
        v_offset := v_last;
    END LOOP;
END;
$$;
