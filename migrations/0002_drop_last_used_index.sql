-- Every status call and download writes carts.last_used_at; its index doubled the pages each such
-- write dirties, and the eviction plan sorts its candidates without it. See src/db/schema.ts.
DROP INDEX `carts_last_used`;
