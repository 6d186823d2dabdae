-- API processes cache item rows; every committed change to items is announced on
-- "recoder_items_changed" (payload: comma-separated internal ids, or "*" for more than 1,000 rows)
-- so each process drops the stale entries. Statement-level: one notice per statement.
CREATE FUNCTION recoder_notify_items_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  ids text;
  n integer;
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    PERFORM pg_notify('recoder_items_changed', '*');
    RETURN NULL;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT string_agg(id::text, ','), count(*) INTO ids, n FROM (SELECT id FROM old_rows LIMIT 1001) s;
  ELSE
    SELECT string_agg(id::text, ','), count(*) INTO ids, n FROM (SELECT id FROM new_rows LIMIT 1001) s;
  END IF;
  IF n = 0 THEN
    RETURN NULL;
  END IF;
  IF n > 1000 THEN
    ids := '*';
  END IF;
  PERFORM pg_notify('recoder_items_changed', ids);
  RETURN NULL;
END
$$;

CREATE TRIGGER items_changed_update AFTER UPDATE ON "items"
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION recoder_notify_items_changed();
CREATE TRIGGER items_changed_delete AFTER DELETE ON "items"
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION recoder_notify_items_changed();
CREATE TRIGGER items_changed_truncate AFTER TRUNCATE ON "items"
  FOR EACH STATEMENT EXECUTE FUNCTION recoder_notify_items_changed();
