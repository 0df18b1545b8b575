-- The event log. Rows are only ever inserted: a trigger refuses UPDATE, DELETE and TRUNCATE.
--
-- Log order is (transaction_id, position), not position alone: a position is taken when a row is
-- inserted but becomes visible only when its transaction commits, so positions can appear out of
-- order. Readers only read rows whose writing transaction is older than every transaction still in
-- progress (transaction_id < pg_snapshot_xmin(pg_current_snapshot())); anything committed later sorts
-- after everything already read. See docs/decisions/0002-no-skipped-events.md.
CREATE TABLE lodge_events (
    position        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id  xid8 NOT NULL DEFAULT pg_current_xact_id(),
    event_id        uuid NOT NULL UNIQUE,
    stream_id       text NOT NULL,
    stream_version  bigint NOT NULL CHECK (stream_version >= 1),
    event_type      text NOT NULL,
    schema_version  integer NOT NULL CHECK (schema_version >= 1),
    -- json, not jsonb: the exact text is kept, so the hash chain can be checked byte for byte.
    data            json NOT NULL,
    metadata        json NOT NULL,
    recorded_at     timestamptz NOT NULL,
    -- sha256(previous hash of the stream || version || recorded_at in µs || content hash)
    hash            bytea NOT NULL CHECK (length(hash) = 32),
    UNIQUE (stream_id, stream_version)
);

CREATE INDEX lodge_events_log_order ON lodge_events (transaction_id, position);

-- One row per stream: its version and the hash at its head. Appends lock this row, so appends to one
-- stream are serial while appends to different streams run in parallel.
CREATE TABLE lodge_streams (
    stream_id  text PRIMARY KEY,
    version    bigint NOT NULL,
    last_hash  bytea NOT NULL
);

-- The first outcome of every command, so that a repeated command appends nothing and gets it again.
CREATE TABLE lodge_commands (
    command_id     uuid PRIMARY KEY,
    stream_id      text NOT NULL,
    -- sha256 of what the command appended (types, versions, payloads), to tell a retry from a misuse.
    fingerprint    bytea NOT NULL,
    first_version  bigint NOT NULL,
    last_version   bigint NOT NULL,
    last_position  bigint NOT NULL,
    recorded_at    timestamptz NOT NULL
);

CREATE FUNCTION lodge_events_are_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'lodge_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'LG003';
END;
$$;

CREATE TRIGGER lodge_events_no_update_or_delete
    BEFORE UPDATE OR DELETE ON lodge_events
    FOR EACH ROW EXECUTE FUNCTION lodge_events_are_append_only();

CREATE TRIGGER lodge_events_no_truncate
    BEFORE TRUNCATE ON lodge_events
    FOR EACH STATEMENT EXECUTE FUNCTION lodge_events_are_append_only();

-- Appends events to one stream in one round trip and one short transaction.
--   p_expected: NULL for any version, 0 for "no stream yet", n for exactly version n.
-- Raises LG001 (detail: the stream's actual version) on a version conflict and LG002 (detail: the
-- first stream) when the command id was used for something else; both append nothing.
CREATE FUNCTION lodge_append(
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

    LOOP
        SELECT s.version, s.last_hash INTO v_version, v_hash
            FROM lodge_streams s WHERE s.stream_id = p_stream_id FOR UPDATE;
        EXIT WHEN FOUND;
        INSERT INTO lodge_streams (stream_id, version, last_hash)
            VALUES (p_stream_id, 0, decode(repeat('00', 32), 'hex'))
            ON CONFLICT (stream_id) DO NOTHING;
    END LOOP;

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

    UPDATE lodge_streams SET version = v_version, last_hash = v_hash WHERE stream_id = p_stream_id;
    INSERT INTO lodge_commands (command_id, stream_id, fingerprint, first_version, last_version, last_position, recorded_at)
        VALUES (p_command_id, p_stream_id, p_fingerprint, v_first, v_version, v_position, v_now);

    RETURN QUERY SELECT false, v_first, v_version, v_position, v_now;
END;
$$;
