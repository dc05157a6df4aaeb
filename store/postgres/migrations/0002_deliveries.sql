-- Deliveries: one row per message and destination. A claim leases the row
-- (lease_owner, lease_until) and moves next_attempt_at to the lease's end,
-- so that a claimed row leaves the due range and comes back by itself when
-- its worker dies.
CREATE TABLE deliveries (
	message_id      text COLLATE "C" NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
	app             text COLLATE "C" NOT NULL,
	destination     text COLLATE "C" NOT NULL,
	state           text NOT NULL CHECK (state IN ('pending', 'done', 'dead')),
	attempts        integer NOT NULL DEFAULT 0,
	next_attempt_at timestamptz NOT NULL,
	lease_owner     text COLLATE "C",
	lease_until     timestamptz,
	last_error      text NOT NULL DEFAULT '',
	created_at      timestamptz NOT NULL,
	updated_at      timestamptz NOT NULL,
	delivered_at    timestamptz,
	PRIMARY KEY (message_id, destination)
);

-- The claim: due pending deliveries of one destination, oldest first.
CREATE INDEX deliveries_due ON deliveries (destination, next_attempt_at) WHERE state = 'pending';
-- Dead letters, newest first (updated_at is when they died).
CREATE INDEX deliveries_dead ON deliveries (updated_at, message_id, destination) WHERE state = 'dead';
-- ReleaseLeases: the few rows leased right now.
CREATE INDEX deliveries_leased ON deliveries (lease_owner) WHERE lease_owner IS NOT NULL;

-- Attempts: one row per finished attempt whose outcome was recorded.
CREATE TABLE delivery_attempts (
	message_id  text COLLATE "C" NOT NULL,
	destination text COLLATE "C" NOT NULL,
	n           integer NOT NULL,
	started_at  timestamptz NOT NULL,
	duration_us bigint NOT NULL,
	status      integer NOT NULL,
	error       text NOT NULL,
	PRIMARY KEY (message_id, destination, n),
	FOREIGN KEY (message_id, destination) REFERENCES deliveries (message_id, destination) ON DELETE CASCADE
);
