package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/wxgate/wxgate/gateway/webhook"
	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/store"
)

// fillStore stores n text pushes of the console's user, as the gateway
// would have, in batches.
func fillStore(b testing.TB, s *stack, n int) {
	b.Helper()
	ctx := context.Background()
	openid := s.user()
	start := time.Now().Add(-time.Hour)
	for done := 0; done < n; {
		batch := make([]store.NewMessage, 0, store.MaxAppendItems)
		for ; done < n && len(batch) < cap(batch); done++ {
			m := &message.Text{Header: message.Header{ToUserName: "gh_5a3c9e1f7b2d", FromUserName: openid, MsgType: "text",
				CreateTime: start.Unix() + int64(done)}, Content: fmt.Sprintf("message %d", done), MsgID: message.MsgID(fmt.Sprint(1<<40 + done))}
			raw, err := message.Encode(m, message.FormatXML)
			if err != nil {
				b.Fatal(err)
			}
			js, _ := message.Encode(m, message.FormatJSON)
			key := m.DedupKey()
			at := start.Add(time.Duration(done) * time.Millisecond)
			payload, err := webhook.AppendEvent(nil, &webhook.Event{ID: store.MessageID("default", key), App: "default", AppID: testAppID,
				OpenID: openid, MsgType: "text", CreateTime: m.CreateTime, ReceivedAt: webhook.FormatTime(at), Message: js})
			if err != nil {
				b.Fatal(err)
			}
			batch = append(batch, store.NewMessage{App: "default", AppID: testAppID, OpenID: openid, MsgType: "text",
				CreateTime: m.CreateTime, ReceivedAt: at, DedupKey: key, Format: "xml", Mode: "safe", Raw: raw, Payload: payload})
		}
		if _, err := s.store.Append(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPages10k: every page of the console with 10,000 messages in
// the gateway's store (and pushes on the wire and in the chat). The
// target is well under 100 ms a page.
func BenchmarkPages10k(b *testing.B) {
	s := newStack(b)
	fillStore(b, s, 10000)
	u := s.user()
	for i := 0; i < 20; i++ {
		s.send(u, fmt.Sprintf("hello %d", i))
	}
	msgs, _, err := s.console.api.messages(context.Background(), "", 1)
	if err != nil || len(msgs) == 0 {
		b.Fatal("no messages", err)
	}
	for _, p := range []struct{ name, path string }{
		{"chat", "/chat?user=" + url.QueryEscape(u)}, {"wire", "/wire"}, {"wire-push", "/wire/1"}, {"server", "/server"},
		{"server-message", "/server/messages/" + msgs[0].ID}, {"settings", "/settings"},
	} {
		path := p.path
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				resp, err := http.Get(s.srv.URL + path)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("%s: %d", path, resp.StatusCode)
				}
			}
		})
	}
}
