-- PostgreSQL's side of 0001 (after the portable part): the audit log's
-- append-only triggers, and the insertion order SQLite keeps as rowid.

CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit log is append-only' USING ERRCODE = 'check_violation';
END $$;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
FOR EACH ROW EXECUTE FUNCTION audit_append_only();

ALTER TABLE accounts ADD COLUMN rowid BIGINT GENERATED ALWAYS AS IDENTITY;
