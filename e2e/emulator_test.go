package e2e

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/wechatsim"
)

// pushBudget bounds one pushAll.
const pushBudget = 2 * time.Minute

// newClient returns an emulator pushing to target with cr's credentials.
// Each push is delivered once: the tests retry by themselves, as WeChat
// would, when they want a retry.
func newClient(t *testing.T, target string, cr creds, mode wechatsim.Mode, format message.Format, conc int) *wechatsim.Client {
	t.Helper()
	c, err := wechatsim.NewClient(wechatsim.ClientConfig{URL: target, AppID: cr.AppID, Token: cr.Token, AESKey: cr.AESKey,
		Mode: mode, Format: format, Deliveries: 1, Concurrency: conc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// texts returns n distinct text messages, each with its own MsgId and a
// fixed sender and CreateTime, so that pushing one again is WeChat's retry
// of the same message.
func texts(n int, tag string) []*message.Text {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	// 19 digits, far below 2^63 even after n.
	base := 1_000_000_000_000_000_000 + binary.BigEndian.Uint64(b[:])%7_000_000_000_000_000_000
	now := time.Now().Unix()
	out := make([]*message.Text, n)
	for i := range out {
		out[i] = &message.Text{
			Header:  message.Header{FromUserName: fmt.Sprintf("oE2E-%s-user%02d", tag, i%40), CreateTime: now},
			Content: fmt.Sprintf("%s message %d", tag, i),
			MsgID:   message.MsgID(strconv.FormatUint(base+uint64(i), 10)),
		}
	}
	return out
}

// textKey is the message key (see messageKey) of a text message.
func textKey(m *message.Text) string { return "msg:" + string(m.MsgID) }

func textKeys(ms []*message.Text) []string {
	keys := make([]string, len(ms))
	for i, m := range ms {
		keys[i] = textKey(m)
	}
	return keys
}

// status is the HTTP status of a push's last delivery, 0 for no answer.
func status(o *wechatsim.Outcome) int {
	if len(o.Deliveries) == 0 {
		return 0
	}
	return o.Deliveries[len(o.Deliveries)-1].Status
}

// pushAll pushes every message of msgs with conc workers (to the client
// clientFor(i) picks) and calls done with each outcome, from the workers.
func pushAll[M message.Push](t *testing.T, clientFor func(i int) *wechatsim.Client, msgs []M, conc int, done func(i int, o *wechatsim.Outcome)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), pushBudget)
	defer cancel()
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range conc {
		wg.Go(func() {
			for i := range next {
				o, err := clientFor(i).Push(ctx, msgs[i])
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("push %d: %w", i, err)
					}
					mu.Unlock()
					continue
				}
				done(i, o)
			}
		})
	}
	for i := range msgs {
		next <- i
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
}

// one returns a clientFor that always picks c.
func one(c *wechatsim.Client) func(int) *wechatsim.Client {
	return func(int) *wechatsim.Client { return c }
}
