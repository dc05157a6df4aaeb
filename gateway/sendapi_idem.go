package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/wxgate/wxgate/store"
)

// Idempotency keys: a client that retries a send with the same
// Idempotency-Key header within IdempotencyTTL gets the first answer, and
// nothing is sent again. Keys are scoped per API key (the admin token is
// one scope); the request's method, path and normalized body are hashed,
// so the same key with another request is refused.

// IdempotencyTTL is how long an Idempotency-Key's answer is kept.
const IdempotencyTTL = 24 * time.Hour

// maxIdempotencyKey bounds the header's length.
const maxIdempotencyKey = 255

// idempotent runs send once per Idempotency-Key, or at once without one.
// send returns the answer and whether it is final: false means nothing
// reached WeChat, and the key is released for a retry.
func (g *Gateway) idempotent(w http.ResponseWriter, r *http.Request, p *principal, body []byte,
	send func(ctx context.Context) (answer, bool)) {
	ctx, cancel := sendContext(r)
	defer cancel()
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		a, _ := send(ctx)
		writeAnswer(w, a)
		return
	}
	if len(key) > maxIdempotencyKey || !printableASCII(key) {
		writeAnswer(w, errAnswer(http.StatusBadRequest, "invalid_request",
			"Idempotency-Key: 1 to 255 printable ASCII characters, such as a UUID"))
		return
	}
	out := g.outboundStore()
	if out == nil {
		writeAnswer(w, errAnswer(http.StatusServiceUnavailable, "idempotency_unavailable",
			"the store keeps no idempotency keys; send without Idempotency-Key"))
		return
	}
	h := sha256.New()
	h.Write([]byte(r.Method + " " + r.URL.Path + "\n"))
	h.Write(body)
	hash := hex.EncodeToString(h.Sum(nil))
	rec, err := out.ClaimIdempotency(ctx, p.sender, key, hash, g.now().Add(IdempotencyTTL))
	if err != nil {
		g.log.Error("send API: claiming an idempotency key", "key_name", p.name, "err", err)
		writeAnswer(w, errAnswer(http.StatusServiceUnavailable, "store_unavailable", "the store did not answer; try again"))
		return
	}
	switch rec.State {
	case store.IdempotencyDone:
		w.Header().Set("Idempotent-Replayed", "true")
		writeAnswer(w, answer{status: rec.Status, body: rec.Response})
		return
	case store.IdempotencyInFlight:
		writeAnswer(w, errAnswer(http.StatusConflict, "idempotency_in_progress",
			"a request with this Idempotency-Key is being served; retry in a moment"))
		return
	case store.IdempotencyMismatch:
		writeAnswer(w, errAnswer(http.StatusUnprocessableEntity, "idempotency_key_reused",
			"this Idempotency-Key was used for a different request"))
		return
	case store.IdempotencyNew:
	default:
		g.log.Error("send API: unknown idempotency state", "state", rec.State)
		writeAnswer(w, errAnswer(http.StatusServiceUnavailable, "store_unavailable", "the store did not answer; try again"))
		return
	}
	a, final := send(ctx)
	if final {
		err = out.CompleteIdempotency(ctx, p.sender, key, a.status, a.body)
	} else {
		err = out.ReleaseIdempotency(ctx, p.sender, key)
	}
	if err != nil {
		// The claim lapses on its own after a minute.
		g.log.Error("send API: completing an idempotency key", "key_name", p.name, "err", err)
	}
	writeAnswer(w, a)
}

// printableASCII reports whether s is 1 or more printable ASCII
// characters (spaces allowed).
func printableASCII(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}
