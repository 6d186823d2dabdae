-- API processes cache users' histories for the recommendation hot path (HistoryCache); every
-- committed change to a user's interactions (and every deleted user) is announced on
-- "recoder_histories_changed" (payload: comma-separated internal user ids, or "*" for more than
-- 1,000 users or a TRUNCATE) so each process drops the stale entries. Statement-level: one notice
-- per statement, sent at commit.
CREATE FUNCTION recoder_notify_histories_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  ids text;
  n integer;
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    PERFORM pg_notify('recoder_histories_changed', '*');
    RETURN NULL;
  ELSIF TG_TABLE_NAME = 'users' THEN
    SELECT string_agg(id::text, ','), count(*) INTO ids, n FROM (SELECT id FROM old_rows LIMIT 1001) s;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT string_agg(user_id::text, ','), count(*) INTO ids, n
      FROM (SELECT DISTINCT user_id FROM old_rows LIMIT 1001) s;
  ELSE
    SELECT string_agg(user_id::text, ','), count(*) INTO ids, n
      FROM (SELECT DISTINCT user_id FROM new_rows LIMIT 1001) s;
  END IF;
  IF n = 0 THEN
    RETURN NULL;
  END IF;
  IF n > 1000 THEN
    ids := '*';
  END IF;
  PERFORM pg_notify('recoder_histories_changed', ids);
  RETURN NULL;
END
$$;

CREATE TRIGGER interactions_changed_insert AFTER INSERT ON "interactions"
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION recoder_notify_histories_changed();
CREATE TRIGGER interactions_changed_update AFTER UPDATE ON "interactions"
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION recoder_notify_histories_changed();
CREATE TRIGGER interactions_changed_delete AFTER DELETE ON "interactions"
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION recoder_notify_histories_changed();
CREATE TRIGGER interactions_changed_truncate AFTER TRUNCATE ON "interactions"
  FOR EACH STATEMENT EXECUTE FUNCTION recoder_notify_histories_changed();
CREATE TRIGGER users_changed_delete AFTER DELETE ON "users"
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION recoder_notify_histories_changed();
CREATE TRIGGER users_changed_truncate AFTER TRUNCATE ON "users"
  FOR EACH STATEMENT EXECUTE FUNCTION recoder_notify_histories_changed();
