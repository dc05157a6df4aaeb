-- Deliveries: one row per message and destination. A claim leases the row
-- (lease_owner, lease_until) and moves next_attempt_at to the lease's end,
-- so that a claimed row leaves the due range and comes back by itself when
-- its worker dies. Times are Unix microseconds.
--
-- The rowid (id) keeps rows in the order they were stored: the deliveries
-- a cycle claims and completes are the recent ones, on a few pages, where
-- a table keyed by (message_id, destination), a hash, would spread them over
-- as many pages as rows. Attempts hang off that id for the same reason.
CREATE TABLE deliveries (
	id              INTEGER PRIMARY KEY,
	message_id      TEXT    NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
	app             TEXT    NOT NULL,
	destination     TEXT    NOT NULL,
	state           TEXT    NOT NULL CHECK (state IN ('pending', 'done', 'dead')),
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER NOT NULL,
	lease_owner     TEXT,
	lease_until     INTEGER,
	last_error      TEXT    NOT NULL DEFAULT '',
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL,
	delivered_at    INTEGER,
	UNIQUE (message_id, destination)
) STRICT;

-- The claim: due pending deliveries of one destination, oldest first.
CREATE INDEX deliveries_due ON deliveries (destination, next_attempt_at) WHERE state = 'pending';
-- Dead letters, newest first (updated_at is when they died).
CREATE INDEX deliveries_dead ON deliveries (updated_at, message_id, destination) WHERE state = 'dead';
-- ReleaseLeases: the few rows leased right now.
CREATE INDEX deliveries_leased ON deliveries (lease_owner) WHERE lease_owner IS NOT NULL;

-- Attempts: one row per finished attempt whose outcome was recorded.
CREATE TABLE delivery_attempts (
	delivery_id INTEGER NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
	n           INTEGER NOT NULL,
	started_at  INTEGER NOT NULL,
	duration_us INTEGER NOT NULL,
	status      INTEGER NOT NULL,
	error       TEXT    NOT NULL,
	PRIMARY KEY (delivery_id, n)
) STRICT, WITHOUT ROWID;
