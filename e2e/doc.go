// Package e2e holds the end-to-end tests of `wxgate serve`: each test
// builds nothing of its own but runs the real binary (built once, in
// TestMain, from ./cmd/wxgate) as a child process on 127.0.0.1, plays
// WeChat against it with the emulator (package wechatsim), and receives its
// deliveries in a webhook receiver that checks every signature, or from a
// real NATS server.
//
// The tests cover the promises of the gateway that only show across a
// process boundary: a push answered 200 survives a kill -9 and reaches the
// webhook at least once, stored exactly once (on SQLite and PostgreSQL);
// replicas on one PostgreSQL database store a push raced to two of them
// once and share the deliveries; a webhook that is slow, then down, then
// back gets everything, through retries, dead letters and redelivery; NATS
// JetStream gets the contract's subjects, body and Nats-Msg-Id.
//
// PostgreSQL and NATS tests read WXGATE_TEST_POSTGRES and WXGATE_TEST_NATS
// and are skipped when those are unset. WXGATE_E2E_BINARY, when set, names
// the wxgate binary to test instead of building one. The package has no
// non-test code.
package e2e
