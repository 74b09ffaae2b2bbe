ALTER TABLE `volume_totals` ADD `garbage_epoch` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- garbage_epoch moves whenever a stored file may have become one no live cart needs; see
-- src/db/schema.ts (volumeTotals) and src/db/space-plan.ts. A live cart is one not deleted
-- and `staging` or `ready`; a blob key is `hashtype-hashsum`.
CREATE TRIGGER `carts_garbage_leave` AFTER UPDATE OF `status`, `deleted_at` ON `carts`
WHEN OLD.`deleted_at` IS NULL AND OLD.`status` IN ('staging', 'ready')
  AND NOT (NEW.`deleted_at` IS NULL AND NEW.`status` IN ('staging', 'ready'))
BEGIN
  UPDATE `volume_totals` SET `garbage_epoch` = `garbage_epoch` + 1 WHERE `id` = 1;
END;
--> statement-breakpoint
CREATE TRIGGER `carts_garbage_delete` AFTER DELETE ON `carts`
WHEN OLD.`deleted_at` IS NULL AND OLD.`status` IN ('staging', 'ready')
BEGIN
  UPDATE `volume_totals` SET `garbage_epoch` = `garbage_epoch` + 1 WHERE `id` = 1;
END;
--> statement-breakpoint
CREATE TRIGGER `files_garbage_delete` AFTER DELETE ON `files`
WHEN EXISTS (SELECT 1 FROM `carts` c WHERE c.`id` = OLD.`cart_id` AND c.`deleted_at` IS NULL AND c.`status` IN ('staging', 'ready'))
BEGIN
  UPDATE `volume_totals` SET `garbage_epoch` = `garbage_epoch` + 1 WHERE `id` = 1;
END;
--> statement-breakpoint
CREATE TRIGGER `files_garbage_update` AFTER UPDATE OF `cart_id`, `hashtype`, `hashsum` ON `files`
WHEN EXISTS (SELECT 1 FROM `carts` c WHERE c.`id` = OLD.`cart_id` AND c.`deleted_at` IS NULL AND c.`status` IN ('staging', 'ready'))
BEGIN
  UPDATE `volume_totals` SET `garbage_epoch` = `garbage_epoch` + 1 WHERE `id` = 1;
END;
--> statement-breakpoint
CREATE TRIGGER `blobs_garbage_insert` AFTER INSERT ON `blobs`
WHEN NEW.`state` = 'present' AND NOT EXISTS (
  SELECT 1 FROM `files` f JOIN `carts` c ON c.`id` = f.`cart_id`
  WHERE f.`hashtype` = substr(NEW.`key`, 1, instr(NEW.`key`, '-') - 1) AND f.`hashsum` = substr(NEW.`key`, instr(NEW.`key`, '-') + 1)
    AND c.`deleted_at` IS NULL AND c.`status` IN ('staging', 'ready'))
BEGIN
  UPDATE `volume_totals` SET `garbage_epoch` = `garbage_epoch` + 1 WHERE `id` = 1;
END;
--> statement-breakpoint
CREATE TRIGGER `blobs_garbage_present` AFTER UPDATE OF `state` ON `blobs`
WHEN NEW.`state` = 'present' AND OLD.`state` != 'present' AND NOT EXISTS (
  SELECT 1 FROM `files` f JOIN `carts` c ON c.`id` = f.`cart_id`
  WHERE f.`hashtype` = substr(NEW.`key`, 1, instr(NEW.`key`, '-') - 1) AND f.`hashsum` = substr(NEW.`key`, instr(NEW.`key`, '-') + 1)
    AND c.`deleted_at` IS NULL AND c.`status` IN ('staging', 'ready'))
BEGIN
  UPDATE `volume_totals` SET `garbage_epoch` = `garbage_epoch` + 1 WHERE `id` = 1;
END;
