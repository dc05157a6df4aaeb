-- Messages: one row per push; (app, dedup_key) is the dedup. Text keys use
-- the C collation: byte order, as the cursor expects, and cheaper indexes.
CREATE TABLE messages (
	id          text COLLATE "C" PRIMARY KEY,
	app         text COLLATE "C" NOT NULL,
	appid       text NOT NULL,
	openid      text COLLATE "C" NOT NULL,
	msg_type    text NOT NULL,
	event       text NOT NULL,
	create_time bigint NOT NULL,
	received_at timestamptz NOT NULL,
	dedup_key   text COLLATE "C" NOT NULL,
	format      text NOT NULL,
	mode        text NOT NULL,
	raw         bytea NOT NULL,
	payload     bytea,
	reply       bytea,
	CONSTRAINT messages_app_dedup_key UNIQUE (app, dedup_key)
);

CREATE INDEX messages_received ON messages (received_at, id);
CREATE INDEX messages_app_received ON messages (app, received_at, id);
CREATE INDEX messages_openid_received ON messages (openid, received_at, id);

-- Nonces: one-use (timestamp, nonce) keys of signed requests, until they expire.
CREATE TABLE nonces (
	key        text COLLATE "C" PRIMARY KEY,
	digest     text NOT NULL,
	expires_at timestamptz NOT NULL
);

CREATE INDEX nonces_expires ON nonces (expires_at);
