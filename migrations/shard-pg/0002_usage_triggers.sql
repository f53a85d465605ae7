-- Storage accounting and quota, as migrations/shard/0003 does on D1: shard_tenants.entry_count /
-- stored_bytes follow every change to entries, and a change that would grow usage past the
-- tenant's max_* is refused. Growth is checked, not level, so lowering a plan never blocks
-- deletes or shrinking writes. A tenant without a shard_tenants row is neither counted nor
-- limited, as on D1.
--
-- Race-free under READ COMMITTED: a growing write first takes the tenant's counter row with
-- SELECT … FOR UPDATE, which waits for any other writer of that tenant and then reads the
-- newest committed counts; the check and the increment both happen under that lock, held to
-- commit, so two concurrent inserts can never both pass against the same old count. The
-- checks run after the row is written (AFTER triggers), so only a write that really happened
-- is counted, and a refusal rolls the whole statement back.
UPDATE shard_tenants SET
  entry_count = (SELECT count(*) FROM entries WHERE entries.tenant_id = shard_tenants.tenant_id),
  stored_bytes = (SELECT coalesce(sum(size_bytes), 0) FROM entries WHERE entries.tenant_id = shard_tenants.tenant_id);
--> statement-breakpoint
CREATE FUNCTION entries_usage_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  usage record;
BEGIN
  SELECT entry_count, stored_bytes, max_entries, max_stored_bytes INTO usage
    FROM shard_tenants WHERE tenant_id = NEW.tenant_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  IF usage.max_entries IS NOT NULL AND usage.entry_count + 1 > usage.max_entries THEN
    RAISE EXCEPTION 'quota_exceeded:entries';
  END IF;
  IF usage.max_stored_bytes IS NOT NULL AND usage.stored_bytes + NEW.size_bytes > usage.max_stored_bytes THEN
    RAISE EXCEPTION 'quota_exceeded:stored_bytes';
  END IF;
  UPDATE shard_tenants SET entry_count = entry_count + 1, stored_bytes = stored_bytes + NEW.size_bytes
    WHERE tenant_id = NEW.tenant_id;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION entries_usage_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  usage record;
BEGIN
  IF NEW.size_bytes > OLD.size_bytes THEN
    SELECT stored_bytes, max_stored_bytes INTO usage
      FROM shard_tenants WHERE tenant_id = NEW.tenant_id FOR UPDATE;
    IF FOUND AND usage.max_stored_bytes IS NOT NULL
      AND usage.stored_bytes - OLD.size_bytes + NEW.size_bytes > usage.max_stored_bytes THEN
      RAISE EXCEPTION 'quota_exceeded:stored_bytes';
    END IF;
  END IF;
  UPDATE shard_tenants SET stored_bytes = stored_bytes - OLD.size_bytes + NEW.size_bytes
    WHERE tenant_id = NEW.tenant_id;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION entries_usage_after_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE shard_tenants SET entry_count = entry_count - 1, stored_bytes = stored_bytes - OLD.size_bytes
    WHERE tenant_id = OLD.tenant_id;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER entries_usage_after_insert AFTER INSERT ON entries
  FOR EACH ROW EXECUTE FUNCTION entries_usage_after_insert();
--> statement-breakpoint
CREATE TRIGGER entries_usage_after_update AFTER UPDATE OF size_bytes ON entries
  FOR EACH ROW WHEN (NEW.size_bytes <> OLD.size_bytes) EXECUTE FUNCTION entries_usage_after_update();
--> statement-breakpoint
CREATE TRIGGER entries_usage_after_delete AFTER DELETE ON entries
  FOR EACH ROW EXECUTE FUNCTION entries_usage_after_delete();
