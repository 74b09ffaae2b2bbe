CREATE TABLE `volume_totals` (
	`id` integer PRIMARY KEY NOT NULL,
	`all_bytes` integer NOT NULL,
	`present_bytes` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `carts` ADD `files_staged` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `carts` ADD `bytes_total` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `carts` ADD `bytes_staged` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
INSERT INTO `volume_totals` (`id`, `all_bytes`, `present_bytes`)
SELECT 1, COALESCE(SUM(`size`), 0), COALESCE(SUM(CASE WHEN `state` != 'reserved' THEN `size` ELSE 0 END), 0) FROM `blobs`;
--> statement-breakpoint
CREATE TRIGGER `blobs_totals_insert` AFTER INSERT ON `blobs` BEGIN
  UPDATE `volume_totals` SET
    `all_bytes` = `all_bytes` + NEW.`size`,
    `present_bytes` = `present_bytes` + CASE WHEN NEW.`state` != 'reserved' THEN NEW.`size` ELSE 0 END
  WHERE `id` = 1;
END;
--> statement-breakpoint
CREATE TRIGGER `blobs_totals_update` AFTER UPDATE OF `size`, `state` ON `blobs` BEGIN
  UPDATE `volume_totals` SET
    `all_bytes` = `all_bytes` - OLD.`size` + NEW.`size`,
    `present_bytes` = `present_bytes`
      - CASE WHEN OLD.`state` != 'reserved' THEN OLD.`size` ELSE 0 END
      + CASE WHEN NEW.`state` != 'reserved' THEN NEW.`size` ELSE 0 END
  WHERE `id` = 1;
END;
--> statement-breakpoint
CREATE TRIGGER `blobs_totals_delete` AFTER DELETE ON `blobs` BEGIN
  UPDATE `volume_totals` SET
    `all_bytes` = `all_bytes` - OLD.`size`,
    `present_bytes` = `present_bytes` - CASE WHEN OLD.`state` != 'reserved' THEN OLD.`size` ELSE 0 END
  WHERE `id` = 1;
END;
--> statement-breakpoint
UPDATE `carts` SET
  `files_staged` = (SELECT COUNT(*) FROM `files` f WHERE f.`cart_id` = `carts`.`id` AND f.`status` = 'staged'),
  `bytes_total` = (SELECT COALESCE(SUM(f.`size`), 0) FROM `files` f WHERE f.`cart_id` = `carts`.`id`),
  `bytes_staged` = (SELECT COALESCE(SUM(f.`size`), 0) FROM `files` f WHERE f.`cart_id` = `carts`.`id` AND f.`status` = 'staged');
--> statement-breakpoint
CREATE TRIGGER `files_counts_insert` AFTER INSERT ON `files` WHEN NEW.`size` IS NOT NULL OR NEW.`status` = 'staged' BEGIN
  UPDATE `carts` SET
    `bytes_total` = `bytes_total` + COALESCE(NEW.`size`, 0),
    `files_staged` = `files_staged` + (NEW.`status` = 'staged'),
    `bytes_staged` = `bytes_staged` + CASE WHEN NEW.`status` = 'staged' THEN COALESCE(NEW.`size`, 0) ELSE 0 END
  WHERE `id` = NEW.`cart_id`;
END;
--> statement-breakpoint
CREATE TRIGGER `files_counts_update` AFTER UPDATE OF `status`, `size` ON `files` BEGIN
  UPDATE `carts` SET
    `bytes_total` = `bytes_total` - COALESCE(OLD.`size`, 0) + COALESCE(NEW.`size`, 0),
    `files_staged` = `files_staged` - (OLD.`status` = 'staged') + (NEW.`status` = 'staged'),
    `bytes_staged` = `bytes_staged`
      - CASE WHEN OLD.`status` = 'staged' THEN COALESCE(OLD.`size`, 0) ELSE 0 END
      + CASE WHEN NEW.`status` = 'staged' THEN COALESCE(NEW.`size`, 0) ELSE 0 END
  WHERE `id` = NEW.`cart_id`;
END;
