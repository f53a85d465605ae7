-- entries.tags (jsonb) is the source of truth; entry_tags is its index, kept in step by the
-- database itself so that a conditional replace stays one atomic statement (as migrations/shard/0001).
CREATE FUNCTION entries_tags_index() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    DELETE FROM entry_tags WHERE tenant_id = OLD.tenant_id AND entry_id = OLD.id;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO entry_tags (tenant_id, tag, entry_id)
      SELECT NEW.tenant_id, tag, NEW.id FROM jsonb_array_elements_text(NEW.tags) AS tag
      ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER entries_tags_after_insert AFTER INSERT ON entries
  FOR EACH ROW EXECUTE FUNCTION entries_tags_index();
--> statement-breakpoint
CREATE TRIGGER entries_tags_after_update AFTER UPDATE OF tags ON entries
  FOR EACH ROW WHEN (OLD.tags IS DISTINCT FROM NEW.tags) EXECUTE FUNCTION entries_tags_index();
--> statement-breakpoint
CREATE TRIGGER entries_tags_after_delete AFTER DELETE ON entries
  FOR EACH ROW EXECUTE FUNCTION entries_tags_index();
