-- Outbound: what the gateway sent to users through the Open API, or tried
-- to send, with WeChat's answer. seq keeps the table append-ordered (ids
-- are random). Times are Unix microseconds.
CREATE TABLE outbound (
	seq         INTEGER PRIMARY KEY,
	id          TEXT    NOT NULL UNIQUE,
	app         TEXT    NOT NULL,
	openid      TEXT    NOT NULL,
	kind        TEXT    NOT NULL,
	msg_type    TEXT    NOT NULL,
	sender      TEXT    NOT NULL,
	in_reply_to TEXT    NOT NULL,
	request     BLOB,
	ok          INTEGER NOT NULL CHECK (ok IN (0, 1)),
	errcode     INTEGER NOT NULL,
	error       TEXT    NOT NULL,
	created_at  INTEGER NOT NULL
) STRICT;

-- A conversation (app, openid), newest first; the whole table by time for
-- the admin list and retention.
CREATE INDEX outbound_app_openid_created ON outbound (app, openid, created_at, id);
CREATE INDEX outbound_created ON outbound (created_at, id);

-- Idempotency keys of the send API. status is 0 while the claim is in
-- flight, the HTTP status answered once done; claim is the random token
-- of the claim that holds the row.
CREATE TABLE idempotency_keys (
	scope        TEXT    NOT NULL,
	key          TEXT    NOT NULL,
	request_hash TEXT    NOT NULL,
	claim        TEXT    NOT NULL,
	status       INTEGER NOT NULL,
	response     BLOB,
	claimed_at   INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL,
	PRIMARY KEY (scope, key)
) STRICT;

CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);

-- The rules' away ledger: one row per user and closed period whose away
-- message was claimed.
CREATE TABLE away_claims (
	app        TEXT    NOT NULL,
	openid     TEXT    NOT NULL,
	period     INTEGER NOT NULL,
	claimed_at INTEGER NOT NULL,
	PRIMARY KEY (app, openid, period)
) STRICT;

CREATE INDEX away_claims_claimed ON away_claims (claimed_at);

-- The access token shared by replicas, and its refresh lease: one row per
-- app, each half NULL when unset.
CREATE TABLE shared_tokens (
	app         TEXT PRIMARY KEY,
	value       TEXT,
	issued_at   INTEGER,
	expires_at  INTEGER,
	lease_owner TEXT,
	lease_until INTEGER
) STRICT, WITHOUT ROWID;
