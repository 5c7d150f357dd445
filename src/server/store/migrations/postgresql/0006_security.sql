-- PostgreSQL's side of 0006: the retention cutoff only moves forward, and
-- the audit log loses rows only below it. (SQLite's REPLACE guard has no
-- counterpart: PostgreSQL has no REPLACE.)

CREATE FUNCTION audit_retention_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit cutoff only moves forward and keeps at least a day'
        USING ERRCODE = 'check_violation';
END $$;
CREATE TRIGGER audit_retention_only_forward BEFORE UPDATE ON audit_retention
FOR EACH ROW WHEN (NEW.cutoff < OLD.cutoff
                   OR NEW.cutoff > extract(epoch FROM now())::bigint - 86400)
EXECUTE FUNCTION audit_retention_forward();

DROP TRIGGER audit_no_delete ON audit;
CREATE FUNCTION audit_delete_below_cutoff() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.at >= (SELECT cutoff FROM audit_retention WHERE id = 1) THEN
        RAISE EXCEPTION 'audit log is append-only' USING ERRCODE = 'check_violation';
    END IF;
    RETURN OLD;
END $$;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
FOR EACH ROW EXECUTE FUNCTION audit_delete_below_cutoff();
