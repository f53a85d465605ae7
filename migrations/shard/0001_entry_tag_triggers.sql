-- entries.tags (JSON) is the source of truth; entry_tags is its index, kept in step by the
-- database itself so that a conditional replace stays one atomic statement.
CREATE TRIGGER `entries_tags_after_insert` AFTER INSERT ON `entries` BEGIN
  INSERT OR IGNORE INTO `entry_tags` (`tenant_id`, `tag`, `entry_id`)
    SELECT NEW.`tenant_id`, value, NEW.`id` FROM json_each(NEW.`tags`);
END;
--> statement-breakpoint
CREATE TRIGGER `entries_tags_after_update` AFTER UPDATE OF `tags` ON `entries` BEGIN
  DELETE FROM `entry_tags` WHERE `tenant_id` = OLD.`tenant_id` AND `entry_id` = OLD.`id`;
  INSERT OR IGNORE INTO `entry_tags` (`tenant_id`, `tag`, `entry_id`)
    SELECT NEW.`tenant_id`, value, NEW.`id` FROM json_each(NEW.`tags`);
END;
--> statement-breakpoint
CREATE TRIGGER `entries_tags_after_delete` AFTER DELETE ON `entries` BEGIN
  DELETE FROM `entry_tags` WHERE `tenant_id` = OLD.`tenant_id` AND `entry_id` = OLD.`id`;
END;
