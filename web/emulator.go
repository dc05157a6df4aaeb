package web

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/wechatsim"
)

// emulator plays WeChat for the console: a push client per app, mode and
// format (switched live, as in WeChat's settings), one World, one mock.
type emulator struct {
	world *wechatsim.World
	mock  *wechatsim.OpenAPI
	apps  []App

	mu      sync.Mutex
	app     int
	mode    wechatsim.Mode
	format  message.Format
	clients map[clientKey]*wechatsim.Client

	lastID atomic.Uint64 // the last MsgId given
}

type clientKey struct {
	app    int
	mode   wechatsim.Mode
	format message.Format
}

// emuSettings is a copy of what the emulator does now.
type emuSettings struct {
	index  int
	app    App
	mode   wechatsim.Mode
	format message.Format
}

func newEmulator(world *wechatsim.World, mock *wechatsim.OpenAPI, apps []App, mode wechatsim.Mode, format message.Format) (*emulator, error) {
	e := &emulator{world: world, mock: mock, apps: apps, clients: map[clientKey]*wechatsim.Client{}}
	if format == 0 {
		format = message.FormatXML
	}
	if mode == wechatsim.ModeAuto {
		mode = wechatsim.ModePlain
		if apps[0].AESKey != "" {
			mode = wechatsim.ModeSafe
		}
	}
	if err := e.set(0, mode, format); err != nil {
		return nil, err
	}
	return e, nil
}

// errSetting means a mode or format the app cannot take.
var errSetting = errors.New("web: the app cannot be pushed to that way")

// set switches the app, mode and format, checking that the client can be
// made (compat and safe mode need the app's EncodingAESKey and AppID).
func (e *emulator) set(app int, mode wechatsim.Mode, format message.Format) error {
	if app < 0 || app >= len(e.apps) {
		return fmt.Errorf("%w: no app %d", errSetting, app)
	}
	if format != message.FormatXML && format != message.FormatJSON {
		return fmt.Errorf("%w: format %v", errSetting, format)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.clientLocked(clientKey{app, mode, format}); err != nil {
		return err
	}
	e.app, e.mode, e.format = app, mode, format
	return nil
}

func (e *emulator) settings() emuSettings {
	e.mu.Lock()
	defer e.mu.Unlock()
	return emuSettings{index: e.app, app: e.apps[e.app], mode: e.mode, format: e.format}
}

// canEncrypt reports whether app i has a key for compat and safe mode.
func (e *emulator) canEncrypt(i int) bool {
	return i >= 0 && i < len(e.apps) && e.apps[i].AESKey != "" && e.apps[i].AppID != ""
}

// clientLocked returns the client for k, made on first use; e.mu is held.
func (e *emulator) clientLocked(k clientKey) (*wechatsim.Client, error) {
	if c, ok := e.clients[k]; ok {
		return c, nil
	}
	if k.mode != wechatsim.ModePlain && !e.canEncrypt(k.app) {
		return nil, fmt.Errorf("%w: mode %s needs the app's EncodingAESKey and AppID", errSetting, k.mode)
	}
	a := e.apps[k.app]
	key := a.AESKey
	if k.mode == wechatsim.ModePlain {
		key = "" // plaintext: the key plays no part
	}
	c, err := wechatsim.NewClient(wechatsim.ClientConfig{
		URL: a.PushURL, AppID: a.AppID, Token: a.Token, AESKey: key, Mode: k.mode, Format: k.format, World: e.world,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errSetting, err)
	}
	e.clients[k] = c
	return c, nil
}

// current returns the client of the current settings.
func (e *emulator) current() (emuSettings, *wechatsim.Client, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, err := e.clientLocked(clientKey{e.app, e.mode, e.format})
	return emuSettings{index: e.app, app: e.apps[e.app], mode: e.mode, format: e.format}, c, err
}

// prepare fills the header of p as WeChat does, so that its dedup key
// (and the gateway's message id) is known before it is pushed.
func (e *emulator) prepare(c *wechatsim.Client, openid string, p message.Push) {
	h := p.Head()
	if ks := message.KindsOf(p); len(ks) == 1 && h.MsgType == "" {
		h.MsgType, h.Event = ks[0].MsgType, ks[0].Event
	}
	h.ToUserName = c.OriginalID()
	h.FromUserName = openid
	h.CreateTime = e.world.Clock().Now().Unix()
	switch m := p.(type) {
	case *message.Text:
		m.MsgID = e.nextMsgID()
	case *message.Image:
		m.MsgID = e.nextMsgID()
	case *message.MiniProgramPage:
		m.MsgID = e.nextMsgID()
	}
}

// nextMsgID returns an increasing 64-bit MsgId: the clock's seconds in
// the high half and, at first, a random low half, so that the ids of a
// restarted console (whose gateway keeps its store, and would take a
// repeated id for WeChat's retry) do not meet the previous run's.
func (e *emulator) nextMsgID() message.MsgID {
	base := uint64(e.world.Clock().Now().Unix()) << 32
	for {
		last := e.lastID.Load()
		next := max(last+1, base)
		if last == 0 {
			var r [4]byte
			_, _ = rand.Read(r[:])
			next = base | uint64(binary.BigEndian.Uint32(r[:])>>2)
		}
		if e.lastID.CompareAndSwap(last, next) {
			return message.MsgID(fmt.Sprint(next))
		}
	}
}

// faults are the mock's faults the console switches.
type faults struct {
	Slow, Busy bool
}

// Latency and busy rate of the faults the console switches on.
const (
	faultLatency  = time.Second
	faultBusyRate = 0.5
)

func (e *emulator) faults() faults {
	st := e.mock.Faults()
	return faults{Slow: st.Latency > 0, Busy: st.BusyRate > 0}
}

func (e *emulator) setFaults(f faults) {
	if f.Slow {
		e.mock.SetLatency(faultLatency)
	} else {
		e.mock.SetLatency(0)
	}
	if f.Busy {
		e.mock.SetBusyRate(faultBusyRate)
	} else {
		e.mock.SetBusyRate(0)
	}
}

// close releases the clients' connections.
func (e *emulator) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.clients {
		c.Close()
	}
}

// randomID returns n random bytes in hex, for media ids.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// push sends p from openid the current way, recording it on the wire. The
// push runs to its end (WeChat's retries included) even if ctx ends
// first, so that the wire and the transcript stay whole.
func (c *Console) push(ctx context.Context, openid string, p message.Push, summary string) (*wireRecord, error) {
	st, client, err := c.emu.current()
	if err != nil {
		return nil, err
	}
	c.emu.prepare(client, openid, p)
	rec := c.wire.start(st, openid, p, summary)
	c.hub.publish(event{kind: evWire, wireID: rec.ID})
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pushBudget)
	defer cancel()
	out, err := client.Push(pctx, p)
	c.wire.finish(rec.ID, out, err)
	c.hub.publish(event{kind: evWire, wireID: rec.ID})
	if err != nil {
		return rec, err
	}
	return rec, nil
}

// pushBudget bounds one push with WeChat's retries: three deliveries of
// at most 5 s each.
const pushBudget = 20 * time.Second
