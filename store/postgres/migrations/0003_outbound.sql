-- Outbound: what the gateway sent to users through the Open API, or tried
-- to send, with WeChat's answer. Text keys use the C collation: byte order,
-- as the cursor expects.
CREATE TABLE outbound (
	id          text COLLATE "C" PRIMARY KEY,
	app         text COLLATE "C" NOT NULL,
	openid      text COLLATE "C" NOT NULL,
	kind        text NOT NULL,
	msg_type    text NOT NULL,
	sender      text NOT NULL,
	in_reply_to text NOT NULL,
	request     bytea,
	ok          boolean NOT NULL,
	errcode     bigint NOT NULL,
	error       text NOT NULL,
	created_at  timestamptz NOT NULL
);

-- A conversation (app, openid), newest first; the whole table by time for
-- the admin list and retention.
CREATE INDEX outbound_app_openid_created ON outbound (app, openid, created_at, id);
CREATE INDEX outbound_created ON outbound (created_at, id);

-- Idempotency keys of the send API. status is 0 while the claim is in
-- flight, the HTTP status answered once done; claim is the random token
-- of the claim that holds the row.
CREATE TABLE idempotency_keys (
	scope        text COLLATE "C" NOT NULL,
	key          text COLLATE "C" NOT NULL,
	request_hash text NOT NULL,
	claim        text NOT NULL,
	status       integer NOT NULL,
	response     bytea,
	claimed_at   timestamptz NOT NULL,
	expires_at   timestamptz NOT NULL,
	PRIMARY KEY (scope, key)
);

CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);

-- The rules' away ledger: one row per user and closed period whose away
-- message was claimed.
CREATE TABLE away_claims (
	app        text COLLATE "C" NOT NULL,
	openid     text COLLATE "C" NOT NULL,
	period     timestamptz NOT NULL,
	claimed_at timestamptz NOT NULL,
	PRIMARY KEY (app, openid, period)
);

CREATE INDEX away_claims_claimed ON away_claims (claimed_at);

-- The access token shared by replicas, and its refresh lease: one row per
-- app, each half NULL when unset.
CREATE TABLE shared_tokens (
	app         text COLLATE "C" PRIMARY KEY,
	value       text,
	issued_at   timestamptz,
	expires_at  timestamptz,
	lease_owner text COLLATE "C",
	lease_until timestamptz
);
