package deliver_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wxgate/wxgate/gateway/deliver"
	"github.com/wxgate/wxgate/store"
)

func TestToken(t *testing.T) {
	for in, want := range map[string]string{
		"text":           "text",
		"":               "_",
		"a.b":            "a_b",
		"*":              "_",
		">":              "_",
		"a b\tc\nd":      "a_b_c_d",
		"user_enter.*.>": "user_enter____",
		"订阅":             "订阅",
		"a\x00b":         "a_b",
		"\xff":           "_",
	} {
		if got := deliver.Token(in); got != want {
			t.Errorf("Token(%q) = %q, want %q", in, got, want)
		}
	}
	if got := deliver.Token(strings.Repeat("x", 1000)); len(got) != 128 {
		t.Errorf("long token: %d bytes", len(got))
	}
}

// No field of a message can add a token or a wildcard to a subject.
func TestSubject(t *testing.T) {
	def, err := deliver.NewNATS(deliver.NATSConfig{URL: "nats://127.0.0.1:4222"})
	if err != nil {
		t.Fatal(err)
	}
	custom, err := deliver.NewNATS(deliver.NATSConfig{URL: "nats://127.0.0.1:4222", Prefix: "acme.wechat"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		n                        *deliver.NATS
		app, msgType, event, out string
	}{
		{def, "default", "text", "", "wxgate.default.text"},
		{def, "default", "event", "subscribe", "wxgate.default.event.subscribe"},
		{def, "shop.cn", "text", "", "wxgate.shop_cn.text"},
		{def, "default", "a.b", "", "wxgate.default.a_b"},
		{def, "default", "*", "", "wxgate.default._"},
		{def, "default", ">", "", "wxgate.default._"},
		{def, "default", "event", "user.*.>", "wxgate.default.event.user____"},
		{def, "default", "event", "", "wxgate.default.event._"},
		{def, "default", "hello world", "", "wxgate.default.hello_world"},
		{custom, "default", "image", "", "acme.wechat.image"},
		{custom, "x", "event", "CLICK", "acme.wechat.event.CLICK"},
	} {
		got := c.n.Subject(c.app, c.msgType, c.event)
		if got != c.out {
			t.Errorf("Subject(%q, %q, %q) = %q, want %q", c.app, c.msgType, c.event, got, c.out)
		}
		if strings.ContainsAny(got, "*> \t") {
			t.Errorf("%q has a wildcard or space", got)
		}
	}
}

func TestNewNATSChecksConfig(t *testing.T) {
	for name, cfg := range map[string]deliver.NATSConfig{
		"no url":               {},
		"wildcard prefix":      {URL: "nats://x", Prefix: "a.*"},
		"prefix with >":        {URL: "nats://x", Prefix: "a.>"},
		"empty prefix token":   {URL: "nats://x", Prefix: "a..b"},
		"prefix with space":    {URL: "nats://x", Prefix: "a b"},
		"stream with dot":      {URL: "nats://x", Stream: "A.B"},
		"stream with space":    {URL: "nats://x", Stream: "A B"},
		"bad stream subject":   {URL: "nats://x", StreamSubjects: []string{"a.>.b"}},
		"empty stream subject": {URL: "nats://x", StreamSubjects: []string{""}},
		"negative timeout":     {URL: "nats://x", Timeout: -1},
	} {
		if _, err := deliver.NewNATS(cfg); !errors.Is(err, deliver.ErrConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// natsURL returns WXGATE_TEST_NATS or skips the test.
func natsURL(t *testing.T) string {
	u := os.Getenv("WXGATE_TEST_NATS")
	if u == "" {
		t.Skip("set WXGATE_TEST_NATS (e.g. nats://127.0.0.1:4222) to test against a real NATS server with JetStream")
	}
	return u
}

// testStream makes a unique stream name and prefix, and deletes the
// stream at the end of the test.
func testStream(t *testing.T, url string) (stream, prefix string, js jetstream.JetStream) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	js, err = jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	stream = "WXGATE_TEST_" + strings.ToUpper(suffix)
	t.Cleanup(func() {
		_ = js.DeleteStream(context.Background(), stream)
		nc.Close()
	})
	return stream, "wxgatetest." + suffix, js
}

// Against a real server: the stream is created when missing, subjects are
// as specified (sanitized), Nats-Msg-Id is the message id and a second
// publish of the same message is dropped by JetStream.
func TestNATSDelivery(t *testing.T) {
	url := natsURL(t)
	ctx := context.Background()
	stream, prefix, js := testStream(t, url)
	if _, err := js.Stream(ctx, stream); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("stream exists before the test: %v", err)
	}
	n, err := deliver.NewNATS(deliver.NATSConfig{URL: url, Prefix: prefix, Stream: stream})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.Ready(ctx); err == nil {
		t.Fatal("ready before start")
	}
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("stream not created: %v", err)
	}
	if subj := st.CachedInfo().Config.Subjects; len(subj) != 1 || subj[0] != prefix+".>" {
		t.Fatalf("stream subjects %v", subj)
	}
	for _, c := range []struct {
		id, msgType, event, subject string
	}{
		{"msg_text", "text", "", prefix + ".text"},
		{"msg_event", "event", "subscribe", prefix + ".event.subscribe"},
		{"msg_evil", "a.b *>", "", prefix + ".a_b___"},
		{"msg_evil_event", "event", "x.>", prefix + ".event.x__"},
	} {
		cl := store.Claimed{MessageID: c.id, App: "default", MsgType: c.msgType, Event: c.event, Attempt: 1, Payload: payloadFor(c.id)}
		for range 2 { // the second publish is a duplicate
			r, err := n.Deliver(ctx, cl)
			if err != nil || !r.Delivered || r.Status != 0 || r.Body != nil {
				t.Fatalf("%s: %+v %v", c.id, r, err)
			}
		}
		m, err := st.GetLastMsgForSubject(ctx, c.subject)
		if err != nil {
			t.Fatalf("%s: nothing on %s: %v", c.id, c.subject, err)
		}
		if m.Header.Get(jetstream.MsgIDHeader) != c.id || string(m.Data) != string(payloadFor(c.id)) {
			t.Errorf("%s: header %v data %s", c.id, m.Header, m.Data)
		}
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 4 {
		t.Fatalf("%d messages in the stream, want 4 (duplicates dropped)", info.State.Msgs)
	}
	// A second destination finds the stream and leaves it as it is.
	again, err := deliver.NewNATS(deliver.NATSConfig{Name: "again", URL: url, Prefix: prefix, Stream: stream})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if err := again.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// A subject that no stream captures is a clear error.
	other, err := deliver.NewNATS(deliver.NATSConfig{Name: "other", URL: url, Prefix: prefix + "x", Stream: stream})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Deliver(ctx, store.Claimed{MessageID: "m", MsgType: "text", Attempt: 1, Payload: payloadFor("m")}); !errors.Is(err, deliver.ErrPublish) {
		t.Fatalf("uncaptured subject: %v", err)
	}
}

// The engine delivers to NATS: the stream is created on start.
func TestEngineToNATS(t *testing.T) {
	url := natsURL(t)
	ctx := context.Background()
	stream, prefix, js := testStream(t, url)
	n, err := deliver.NewNATS(deliver.NATSConfig{URL: url, Prefix: prefix, Stream: stream, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	fs := newFakeStore()
	fs.addN("n", 20, "nats")
	e, err := deliver.New(fs, []deliver.Destination{n}, "", fast(deliver.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	run(t, e)
	waitFor(t, "the deliveries", func() bool { return fs.count("nats", store.Done) == 20 })
	st, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil || info.State.Msgs != 20 {
		t.Fatalf("%v, %+v", err, info)
	}
}

// A server that is down is a clean, retried failure, without the URL's
// credentials.
func TestNATSUnreachable(t *testing.T) {
	n, err := deliver.NewNATS(deliver.NATSConfig{URL: "nats://bob:hunter2-secret@127.0.0.1:1", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	_, err = n.Deliver(context.Background(), store.Claimed{MessageID: "m", MsgType: "text", Attempt: 1, Payload: payloadFor("m")})
	if !errors.Is(err, deliver.ErrUnreachable) || strings.Contains(err.Error(), "hunter2-secret") {
		t.Fatalf("%v", err)
	}
	if _, err := n.Deliver(context.Background(), store.Claimed{MessageID: "m", Attempt: 1}); !errors.Is(err, deliver.ErrPermanent) {
		t.Fatalf("no payload: %v", err)
	}
}

// A stream deleted under a running destination is created again.
func TestNATSStreamRecreated(t *testing.T) {
	url := natsURL(t)
	ctx := context.Background()
	stream, prefix, js := testStream(t, url)
	n, err := deliver.NewNATS(deliver.NATSConfig{URL: url, Prefix: prefix, Stream: stream, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	c := store.Claimed{MessageID: "m1", MsgType: "text", Attempt: 1, Payload: payloadFor("m1")}
	if _, err := n.Deliver(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteStream(ctx, stream); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Deliver(ctx, c); !errors.Is(err, deliver.ErrPublish) {
		t.Fatalf("publish without the stream: %v", err)
	}
	if r, err := n.Deliver(ctx, c); err != nil || !r.Delivered {
		t.Fatalf("after the stream was deleted: %+v %v", r, err)
	}
	if _, err := js.Stream(ctx, stream); err != nil {
		t.Fatalf("stream not created again: %v", err)
	}
}
