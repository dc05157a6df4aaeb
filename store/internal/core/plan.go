package core

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/wxgate/wxgate/store"
)

// Nonce is one distinct nonce key of a batch. The backend records it and
// sets Effective to the digest the database holds for the key afterwards:
// Digest when the key was new, had expired or was already Digest's.
type Nonce struct {
	Key       string
	Digest    string
	Expires   time.Time
	Effective string
}

// Candidate is one distinct message of a batch that must be inserted. The
// backend sets Inserted when its row was written, or else Found, ID and
// Reply from the row already stored under the same (app, dedup key).
type Candidate struct {
	Item     int // index in Plan.Items of its first occurrence
	Inserted bool
	Found    bool
	ID       string
	Reply    []byte
}

// Plan is the work of one batch. The backend drives it inside its
// transaction:
//
//	record p.Nonces (sorted by key), setting Effective;
//	p.PlanMessages();
//	insert p.Msgs (sorted by app, dedup key), setting Inserted or Found;
//	p.Resolve(); run the hook with p.Stored(); run p.NextJob(0), (1)... until nil; commit.
//
// Distinct keys are sent to the database once and in one global order,
// which both keeps batches of several replicas from deadlocking and lets a
// set-based INSERT never meet the same key twice.
type Plan struct {
	Items  []store.StoredMessage
	Nonces []Nonce
	Msgs   []Candidate
	Jobs   []Job // see NextJob

	takeJob func() JobFunc // a job that arrived meanwhile, or nil

	nonceIdx map[string]int
	msgIdx   map[string]int
	results  []store.AppendResult
	stored   []store.StoredMessage
	info     store.BatchInfo
}

// ErrVanished means a conflicting row was gone when the batch looked it up
// (deleted meanwhile); the batch fails and the retry stores the message.
var ErrVanished = errors.New("store: a conflicting message vanished during the batch")

func (p *Plan) reset() {
	clear(p.Items)
	p.Items = p.Items[:0]
	p.Nonces = p.Nonces[:0]
	clear(p.Msgs)
	p.Msgs = p.Msgs[:0]
	clear(p.Jobs)
	p.Jobs = p.Jobs[:0]
	clear(p.results)
	p.results = p.results[:0]
	clear(p.stored)
	p.stored = p.stored[:0]
	if p.nonceIdx == nil {
		p.nonceIdx = map[string]int{}
		p.msgIdx = map[string]int{}
	}
	clear(p.nonceIdx)
	clear(p.msgIdx)
	p.info = store.BatchInfo{}
}

// Prepare lists the batch's distinct nonce keys in p.Nonces, sorted. The
// first occurrence of a key in the batch is what goes to the database.
func (p *Plan) Prepare() {
	p.Nonces = p.Nonces[:0]
	clear(p.nonceIdx)
	for i := range p.Items {
		it := &p.Items[i]
		if it.NonceKey == "" {
			continue
		}
		if _, ok := p.nonceIdx[it.NonceKey]; ok {
			continue
		}
		p.nonceIdx[it.NonceKey] = -1
		p.Nonces = append(p.Nonces, Nonce{Key: it.NonceKey, Digest: it.NonceDigest, Expires: it.NonceExpires})
	}
	slices.SortFunc(p.Nonces, func(a, b Nonce) int { return strings.Compare(a.Key, b.Key) })
	for i := range p.Nonces {
		p.nonceIdx[p.Nonces[i].Key] = i
	}
}

// replay reports whether item i is a replay, once Nonces are recorded.
func (p *Plan) replay(i int) bool {
	it := &p.Items[i]
	return it.NonceKey != "" && p.Nonces[p.nonceIdx[it.NonceKey]].Effective != it.NonceDigest
}

// PlanMessages lists the distinct messages to insert in p.Msgs, sorted by
// (app, dedup key), leaving out replays. Call it after the nonces are recorded.
func (p *Plan) PlanMessages() {
	p.Msgs = p.Msgs[:0]
	clear(p.msgIdx)
	for i := range p.Items {
		if p.replay(i) {
			continue
		}
		id := p.Items[i].ID
		if _, ok := p.msgIdx[id]; ok {
			continue
		}
		p.msgIdx[id] = -1
		p.Msgs = append(p.Msgs, Candidate{Item: i})
	}
	slices.SortFunc(p.Msgs, func(a, b Candidate) int {
		x, y := &p.Items[a.Item], &p.Items[b.Item]
		if c := strings.Compare(x.App, y.App); c != 0 {
			return c
		}
		return strings.Compare(x.DedupKey, y.DedupKey)
	})
	for i := range p.Msgs {
		p.msgIdx[p.Items[p.Msgs[i].Item].ID] = i
	}
}

// Candidate returns the index in p.Msgs of the message (app, key), or -1.
func (p *Plan) Candidate(app, key string) int {
	if i, ok := p.msgIdx[store.MessageID(app, key)]; ok && i >= 0 {
		c := &p.Items[p.Msgs[i].Item]
		if c.App == app && c.DedupKey == key {
			return i
		}
	}
	return -1
}

// Resolve works out each item's result, once the messages are inserted.
func (p *Plan) Resolve() error {
	p.results = slices.Grow(p.results[:0], len(p.Items))[:len(p.Items)]
	p.stored = p.stored[:0]
	p.info = store.BatchInfo{Items: len(p.Items)}
	for i := range p.Items {
		if p.replay(i) {
			p.results[i] = store.AppendResult{Status: store.Replay}
			p.info.Replays++
			continue
		}
		c := &p.Msgs[p.msgIdx[p.Items[i].ID]]
		switch {
		case c.Inserted && c.Item == i:
			p.results[i] = store.AppendResult{Status: store.Stored, ID: p.Items[i].ID}
			p.stored = append(p.stored, p.Items[i])
			p.info.Stored++
		case c.Inserted:
			p.results[i] = store.AppendResult{Status: store.Duplicate, ID: p.Items[c.Item].ID, Reply: p.Items[c.Item].Reply}
			p.info.Duplicates++
		case c.Found:
			p.results[i] = store.AppendResult{Status: store.Duplicate, ID: c.ID, Reply: c.Reply}
			p.info.Duplicates++
		default:
			return ErrVanished
		}
	}
	return nil
}

// NextJob returns the i-th job of the batch (from 0), or nil after the
// last. Past the jobs the batch started with, it takes those that arrived
// since, so that the backend, calling it until nil right before COMMIT,
// lets a job join the batch up to the last moment.
func (p *Plan) NextJob(i int) *Job {
	if i >= len(p.Jobs) {
		if p.takeJob == nil {
			return nil
		}
		fn := p.takeJob()
		if fn == nil {
			return nil
		}
		p.Jobs = append(p.Jobs, Job{Fn: fn})
	}
	return &p.Jobs[i]
}

// Stored returns the messages the batch stores, in batch order, once
// resolved. The slice is reused by the next batch.
func (p *Plan) Stored() []store.StoredMessage { return p.stored }

// CandidateByID returns the index in p.Msgs of the message with id, or -1.
func (p *Plan) CandidateByID(id string) int {
	if i, ok := p.msgIdx[id]; ok && i >= 0 {
		return i
	}
	return -1
}
