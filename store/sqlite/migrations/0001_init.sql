-- Messages: one row per push. seq keeps the table append-ordered (ids are
-- hashes); (app, dedup_key) is the dedup.
CREATE TABLE messages (
	seq         INTEGER PRIMARY KEY,
	id          TEXT    NOT NULL UNIQUE,
	app         TEXT    NOT NULL,
	appid       TEXT    NOT NULL,
	openid      TEXT    NOT NULL,
	msg_type    TEXT    NOT NULL,
	event       TEXT    NOT NULL,
	create_time INTEGER NOT NULL,
	received_at INTEGER NOT NULL, -- Unix microseconds
	dedup_key   TEXT    NOT NULL,
	format      TEXT    NOT NULL,
	mode        TEXT    NOT NULL,
	raw         BLOB    NOT NULL,
	payload     BLOB,
	reply       BLOB,
	UNIQUE (app, dedup_key)
) STRICT;

CREATE INDEX messages_received ON messages (received_at, id);
CREATE INDEX messages_app_received ON messages (app, received_at, id);
CREATE INDEX messages_openid_received ON messages (openid, received_at, id);

-- Nonces: one-use (timestamp, nonce) keys of signed requests, until they expire.
CREATE TABLE nonces (
	key        TEXT    PRIMARY KEY,
	digest     TEXT    NOT NULL,
	expires_at INTEGER NOT NULL -- Unix microseconds
) STRICT, WITHOUT ROWID;

CREATE INDEX nonces_expires ON nonces (expires_at);
