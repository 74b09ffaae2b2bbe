CREATE TABLE `blobs` (
	`key` text PRIMARY KEY NOT NULL,
	`size` integer NOT NULL,
	`state` text NOT NULL,
	`mtime` real,
	`created_at` integer NOT NULL,
	`owner` text,
	`lease_until` integer
);
--> statement-breakpoint
CREATE INDEX `blobs_state` ON `blobs` (`state`);--> statement-breakpoint
CREATE TABLE `carts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`uid` text NOT NULL,
	`status` text NOT NULL,
	`message` text DEFAULT '' NOT NULL,
	`request_digest` text NOT NULL,
	`file_count` integer NOT NULL,
	`generation` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`last_used_at` integer NOT NULL,
	`readers` integer DEFAULT 0 NOT NULL,
	`deleted_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `carts_live_uid` ON `carts` (`uid`) WHERE "carts"."deleted_at" IS NULL;--> statement-breakpoint
CREATE INDEX `carts_status` ON `carts` (`status`);--> statement-breakpoint
CREATE INDEX `carts_last_used` ON `carts` (`last_used_at`);--> statement-breakpoint
CREATE TABLE `files` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`cart_id` integer NOT NULL,
	`position` integer NOT NULL,
	`archive_id` text NOT NULL,
	`path` text NOT NULL,
	`hashtype` text NOT NULL,
	`hashsum` text NOT NULL,
	`size` integer,
	`mtime` real,
	`status` text DEFAULT 'pending' NOT NULL,
	`message` text DEFAULT '' NOT NULL,
	`tries` integer DEFAULT 0 NOT NULL,
	`recall_at` integer,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`cart_id`) REFERENCES `carts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `files_cart_position` ON `files` (`cart_id`,`position`);--> statement-breakpoint
CREATE INDEX `files_blob` ON `files` (`hashtype`,`hashsum`);--> statement-breakpoint
CREATE INDEX `files_cart_status` ON `files` (`cart_id`,`status`);