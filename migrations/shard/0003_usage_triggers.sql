-- Storage accounting and quota: shard_tenants.entry_count / stored_bytes follow every change to
-- entries, and a change that would grow usage past the tenant's max_* is refused. Growth is
-- checked, not level, so lowering a plan never blocks deletes or shrinking writes.
UPDATE `shard_tenants` SET
  `entry_count` = (SELECT count(*) FROM `entries` WHERE `entries`.`tenant_id` = `shard_tenants`.`tenant_id`),
  `stored_bytes` = (SELECT coalesce(sum(`size_bytes`), 0) FROM `entries` WHERE `entries`.`tenant_id` = `shard_tenants`.`tenant_id`);
--> statement-breakpoint
CREATE TRIGGER `entries_quota_before_insert` BEFORE INSERT ON `entries` BEGIN
  SELECT RAISE(ABORT, 'quota_exceeded:entries') FROM `shard_tenants`
    WHERE `tenant_id` = NEW.`tenant_id` AND `max_entries` IS NOT NULL AND `entry_count` + 1 > `max_entries`;
  SELECT RAISE(ABORT, 'quota_exceeded:stored_bytes') FROM `shard_tenants`
    WHERE `tenant_id` = NEW.`tenant_id` AND `max_stored_bytes` IS NOT NULL
      AND `stored_bytes` + NEW.`size_bytes` > `max_stored_bytes`;
END;
--> statement-breakpoint
CREATE TRIGGER `entries_quota_before_update` BEFORE UPDATE OF `size_bytes` ON `entries`
  WHEN NEW.`size_bytes` > OLD.`size_bytes` BEGIN
  SELECT RAISE(ABORT, 'quota_exceeded:stored_bytes') FROM `shard_tenants`
    WHERE `tenant_id` = NEW.`tenant_id` AND `max_stored_bytes` IS NOT NULL
      AND `stored_bytes` - OLD.`size_bytes` + NEW.`size_bytes` > `max_stored_bytes`;
END;
--> statement-breakpoint
CREATE TRIGGER `entries_usage_after_insert` AFTER INSERT ON `entries` BEGIN
  UPDATE `shard_tenants` SET `entry_count` = `entry_count` + 1, `stored_bytes` = `stored_bytes` + NEW.`size_bytes`
    WHERE `tenant_id` = NEW.`tenant_id`;
END;
--> statement-breakpoint
CREATE TRIGGER `entries_usage_after_update` AFTER UPDATE OF `size_bytes` ON `entries` BEGIN
  UPDATE `shard_tenants` SET `stored_bytes` = `stored_bytes` - OLD.`size_bytes` + NEW.`size_bytes`
    WHERE `tenant_id` = NEW.`tenant_id`;
END;
--> statement-breakpoint
CREATE TRIGGER `entries_usage_after_delete` AFTER DELETE ON `entries` BEGIN
  UPDATE `shard_tenants` SET `entry_count` = `entry_count` - 1, `stored_bytes` = `stored_bytes` - OLD.`size_bytes`
    WHERE `tenant_id` = OLD.`tenant_id`;
END;
