-- depends: 0005_rule_lookup_indexes
-- Accountable change reasons: every change of report_history's
-- history_change_reason leaves an entry (who, when, the value before) that
-- can never be rewritten or removed on its own.
--
-- A table of its own rather than a jsonb column on report_history: a column
-- added to report_history lands after the report's columns, so
-- record_report_history()'s positional "(history columns..., r.*)" would put
-- the next column a migration adds to "reports" into the log, and the two
-- tables could no longer stay aligned. A separate table keeps report_history
-- exactly django-simple-history's layout and keeps each entry a row the
-- guard below can protect with a plain "never UPDATE".
--
-- The database itself writes the entries (a trigger on report_history), so
-- no change of a reason escapes the log, whoever makes it, and "previous" is
-- the value the UPDATE actually replaced even under concurrent edits. The
-- service names the acting user in the transaction-local setting
-- dengue_ward.actor (sql/history.sql, set_history_reason); a change made
-- without it (psql) is logged with changed_by NULL.

CREATE TABLE report_history_reasons (
    id          bigserial PRIMARY KEY,
    -- An entry goes only with its history row (a superuser's delete).
    history_id  bigint NOT NULL REFERENCES report_history (history_id) ON DELETE CASCADE,
    -- No foreign key, like report_history.created_by: the audit trail keeps
    -- the user id even if the user goes (and a SET NULL would be an UPDATE).
    changed_by  bigint,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    previous    varchar(100)
);
-- The history queries aggregate a row's entries, oldest first, for every row
-- they return (up to a whole page of 1,000): one index probe per row.
CREATE INDEX report_history_reasons_history_idx ON report_history_reasons (history_id, id);

CREATE FUNCTION log_report_history_reason() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO report_history_reasons (history_id, changed_by, previous)
    VALUES (OLD.history_id,
            nullif(current_setting('dengue_ward.actor', true), '')::bigint,
            OLD.history_change_reason);
    RETURN NULL;
END;
$$;

-- Setting the same value again changes nothing and logs nothing.
CREATE TRIGGER report_history_reason_logged
    AFTER UPDATE OF history_change_reason ON report_history
    FOR EACH ROW
    WHEN (OLD.history_change_reason IS DISTINCT FROM NEW.history_change_reason)
    EXECUTE FUNCTION log_report_history_reason();

-- The log is append-only: an entry never changes, and goes only when its
-- history row goes (the cascade runs after that row is deleted, so it is no
-- longer there to find).
CREATE FUNCTION report_history_reasons_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'report_history_reasons is append-only: its entries never change'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF EXISTS (SELECT 1 FROM report_history WHERE history_id = OLD.history_id) THEN
        RAISE EXCEPTION 'report_history_reasons is append-only: entries go only with their history row'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN OLD;
END;
$$;

CREATE TRIGGER report_history_reasons_append_only
    BEFORE UPDATE OR DELETE ON report_history_reasons
    FOR EACH ROW EXECUTE FUNCTION report_history_reasons_guard();
