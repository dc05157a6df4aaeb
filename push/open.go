package push

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strconv"
	"time"

	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/wxcrypt"
)

// Opener verifies, decrypts and decodes the pushes of one mini program,
// for code that receives them its own way: behind a queue, in a cloud
// function, or in its own router. The Handler is built on it. Create one
// Opener and reuse it: it remembers nonces between calls.
type Opener struct {
	cfg *resolved
}

// NewOpener returns an Opener for cfg. Router-related fields (Deduper,
// HandlerTimeout) are checked but not used.
func NewOpener(cfg Config) (*Opener, error) {
	r, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	return &Opener{cfg: r}, nil
}

// Open verifies, decrypts and decodes one push with a new Opener for cfg.
// It is meant for one-off use, such as a cloud function answering a single
// request: unless cfg.Nonces is a shared NonceStore, the one-use rule for
// (timestamp, nonce) holds only within this call. Long-running code should
// create an Opener once and call its Open method.
func Open(ctx context.Context, cfg Config, rawQuery string, body []byte) (*Request, error) {
	o, err := NewOpener(cfg)
	if err != nil {
		return nil, err
	}
	return o.Open(ctx, rawQuery, body)
}

// Open verifies the push whose URL query (r.URL.RawQuery) and body are
// given, decrypts it when it is encrypted, and decodes it. It checks, in
// order: the parameters, signature, the timestamp against the replay
// window, the encryption mode against the configuration, the body size,
// msg_signature, the AppID, the format, and that the (timestamp, nonce)
// pair signed no other body. Every error wraps one of the package's
// sentinels (ErrSignature, ErrReplay, ...); StatusCode maps it to the HTTP
// status to answer. The returned Request's Plaintext may share memory with
// body.
func (o *Opener) Open(ctx context.Context, rawQuery string, body []byte) (*Request, error) {
	q, err := o.checkQuery(rawQuery)
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > o.cfg.MaxBody {
		return nil, o.tooLarge()
	}
	return o.openBody(ctx, q, body, nil)
}

// VerifyURL checks the console's URL verification (a GET with signature,
// timestamp, nonce and echostr) and returns echostr, to be answered byte
// for byte. The replay window and the one-use rule apply, with echostr as
// the body.
func (o *Opener) VerifyURL(ctx context.Context, rawQuery string) (string, error) {
	q, ok := parseQuery(rawQuery)
	switch {
	case !ok:
		return "", newError(ErrMalformed, "bad_query", "malformed query string")
	case q.signature == "" || q.timestamp == "" || q.nonce == "" || q.echostr == "":
		return "", newError(ErrMalformed, "missing_param", "missing parameter: signature, timestamp, nonce and echostr are required")
	}
	ts, err := strconv.ParseInt(q.timestamp, 10, 64)
	if err != nil {
		return "", newError(ErrMalformed, "bad_timestamp", "timestamp is not a whole number of seconds")
	}
	if !wxcrypt.VerifySignature(q.signature, o.cfg.Token, q.timestamp, q.nonce) {
		return "", newError(ErrSignature, "bad_signature", "signature mismatch")
	}
	if err := o.checkWindow(ts); err != nil {
		return "", err
	}
	if _, err := o.claimNonce(ctx, q, ts, bodyDigest([]byte(q.echostr))); err != nil {
		return "", err
	}
	return q.echostr, nil
}

// signedQuery is a push URL whose signature and timestamp verified.
type signedQuery struct {
	query
	ts        int64
	encrypted bool
}

// checkQuery checks a push's URL: parameters, signature, timestamp and the
// mode it announces.
func (o *Opener) checkQuery(raw string) (signedQuery, error) {
	q, ok := parseQuery(raw)
	if !ok {
		return signedQuery{}, newError(ErrMalformed, "bad_query", "malformed query string")
	}
	if q.signature == "" || q.timestamp == "" || q.nonce == "" {
		return signedQuery{}, newError(ErrMalformed, "missing_param", "missing parameter: signature, timestamp and nonce are required")
	}
	s := signedQuery{query: q}
	var err error
	if s.ts, err = strconv.ParseInt(q.timestamp, 10, 64); err != nil {
		return s, newError(ErrMalformed, "bad_timestamp", "timestamp is not a whole number of seconds")
	}
	switch q.encryptType {
	case "", "raw":
	case "aes":
		s.encrypted = true
		if q.msgSignature == "" {
			return s, newError(ErrMalformed, "missing_param", "missing parameter: msg_signature is required with encrypt_type=aes")
		}
	default:
		return s, newError(ErrMalformed, "bad_encrypt_type", "unknown encrypt_type: want aes or raw")
	}
	if !wxcrypt.VerifySignature(q.signature, o.cfg.Token, q.timestamp, q.nonce) {
		return s, newError(ErrSignature, "bad_signature", "signature mismatch")
	}
	if err := o.checkWindow(s.ts); err != nil {
		return s, err
	}
	cfg := o.cfg
	switch {
	case s.encrypted && cfg.Mode == ModePlain:
		return s, newError(ErrMode, "mode_refused", "encrypted push refused: the server is in plaintext mode")
	case s.encrypted && cfg.cipher == nil:
		return s, newError(ErrMode, "no_key", "encrypted push refused: the server has no EncodingAESKey")
	case !s.encrypted && (cfg.Mode == ModeSafe || cfg.Mode == ModeCompat):
		return s, newError(ErrMode, "mode_refused", "plaintext push refused: the server is in "+cfg.Mode.String()+" mode")
	case !s.encrypted && cfg.cipher != nil && !cfg.AllowPlaintext:
		return s, newError(ErrMode, "mode_refused", "plaintext push refused: the server has an EncodingAESKey and does not allow plaintext")
	}
	return s, nil
}

func (o *Opener) checkWindow(ts int64) error {
	d := o.cfg.Now().Sub(time.Unix(ts, 0))
	if w := o.cfg.ReplayWindow; d > w || d < -w {
		e := newError(ErrReplay, "stale_timestamp", "timestamp outside the replay window")
		e.cause = errors.New("skew " + d.Round(time.Second).String())
		return e
	}
	return nil
}

func (o *Opener) tooLarge() error {
	return newError(ErrTooLarge, "too_large", "body larger than "+strconv.FormatInt(o.cfg.MaxBody, 10)+" bytes")
}

// openBody opens a body whose URL verified. Decrypted text goes into
// plainBuf when it is large enough.
func (o *Opener) openBody(ctx context.Context, q signedQuery, body, plainBuf []byte) (*Request, error) {
	format, err := message.DetectFormat(body)
	if err != nil {
		return nil, newError(ErrMalformed, "bad_format", "body is neither XML nor JSON")
	}
	req := &Request{AppID: o.cfg.AppID, Mode: ModePlain, Format: format, OpenID: q.openid, Timestamp: q.ts, Nonce: q.nonce}
	plaintext := body
	if q.encrypted {
		req.Mode = requestMode(body, format)
		enc, found, err := message.ExtractEncrypt(body, format)
		if err != nil || !found {
			return nil, newError(ErrMalformed, "bad_body", "body has no Encrypt field")
		}
		if !wxcrypt.VerifySignatureBytes([]byte(q.msgSignature), o.cfg.Token, q.timestamp, q.nonce, enc) {
			return nil, newError(ErrSignature, "bad_msg_signature", "msg_signature mismatch")
		}
		// msg_signature verified, so the sender knows the Token: it may
		// learn that the key or AppID is what differs.
		plaintext, req.key, err = o.cfg.cipher.DecryptBuffer(plainBuf[:0], enc)
		if err != nil {
			e := newError(ErrDecrypt, "bad_ciphertext", "message could not be decrypted: the EncodingAESKey does not match the server's")
			if errors.Is(err, wxcrypt.ErrAppID) {
				e = newError(ErrAppID, "bad_appid", "message is for another AppID: the AppID does not match the server's")
			}
			e.cause = err
			return nil, e
		}
	}
	// A decrypted message carries its own format; a plaintext push's is
	// the body's, detected above.
	innerFormat := format
	if q.encrypted {
		innerFormat, err = message.DetectFormat(plaintext)
	}
	if err == nil {
		req.Push, err = message.Decode(plaintext, innerFormat)
	}
	if err != nil {
		e := newError(ErrMalformed, "bad_message", "malformed "+format.String()+" message")
		e.cause = err
		return nil, e
	}
	req.Plaintext = plaintext
	// The digest is of the decrypted message, so that a retransmission
	// encrypted anew still counts as the same request.
	req.BodyDigest = bodyDigest(plaintext)
	if req.NonceKey, err = o.claimNonce(ctx, q.query, q.ts, req.BodyDigest); err != nil {
		return nil, err
	}
	req.NonceExpires = time.Unix(q.ts, 0).Add(o.cfg.ReplayWindow)
	return req, nil
}

// bodyDigest is the hex SHA-256 of a push's plaintext.
func bodyDigest(plaintext []byte) string {
	sum := sha256.Sum256(plaintext)
	return hex.EncodeToString(sum[:])
}

// claimNonce enforces the one-use rule for the request's (timestamp,
// nonce) pair, which is remembered until the timestamp leaves the window.
// It returns the pair's key.
func (o *Opener) claimNonce(ctx context.Context, q query, ts int64, digest string) (string, error) {
	key := q.timestamp + ":" + q.nonce
	ok, err := o.cfg.Nonces.Claim(ctx, key, digest, time.Unix(ts, 0).Add(o.cfg.ReplayWindow))
	if err != nil {
		e := newError(ErrBusy, "nonce_store_error", "cannot check the request's nonce now; try again later")
		e.cause = err
		return "", e
	}
	if !ok {
		return "", newError(ErrReplay, "nonce_reused", "this timestamp and nonce already signed a different request")
	}
	return key, nil
}

// requestMode tells compatible from safe mode: a compatible body carries the
// plaintext fields beside Encrypt.
func requestMode(body []byte, f message.Format) Mode {
	marker := []byte("<MsgType")
	if f == message.FormatJSON {
		marker = []byte(`"MsgType"`)
	}
	if bytes.Contains(body, marker) {
		return ModeCompat
	}
	return ModeSafe
}

// Render returns the body answering req with reply, and its Content-Type:
// "success" as text for message.Success and nil; otherwise the reply in the
// request's format, encrypted with the key that opened the request when
// the request was encrypted.
func (o *Opener) Render(req *Request, reply message.Reply) (body []byte, contentType string, err error) {
	if reply == nil || message.IsSuccess(reply) {
		return successBody, ctypeText[0], nil
	}
	now := o.cfg.Now()
	plain, err := reply.AppendReply(nil, req.Push.Head(), req.Format, now.Unix())
	if err != nil {
		return nil, "", err
	}
	body, ctype, err := o.seal(req, plain, now)
	if err != nil {
		return nil, "", err
	}
	return body, ctype[0], nil
}

// seal wraps a rendered plaintext answer for req: unchanged for a
// plaintext request, in an encrypted envelope otherwise.
func (o *Opener) seal(req *Request, answer []byte, now time.Time) ([]byte, []string, error) {
	if bytes.Equal(answer, successBody) || len(answer) == 0 {
		return successBody, ctypeText, nil
	}
	ctype := ctypeXML
	if req.Format == message.FormatJSON {
		ctype = ctypeJSON
	}
	if req.key == nil {
		return answer, ctype, nil
	}
	env, err := sealReply(req.key, o.cfg.AppID, o.cfg.Token, answer, now)
	if err != nil {
		return nil, nil, err
	}
	return env.Append(nil, req.Format), ctype, nil
}

// sealReply encrypts a plaintext reply for appID with key and signs it:
// the Encrypt, MsgSignature, TimeStamp (seconds) and Nonce of an encrypted
// passive reply.
func sealReply(key *wxcrypt.Key, appID, token string, plaintext []byte, now time.Time) (message.Envelope, error) {
	enc, err := key.Encrypt(nil, plaintext, appID)
	if err != nil {
		return message.Envelope{}, err
	}
	var n [8]byte
	if _, err := rand.Read(n[:]); err != nil {
		return message.Envelope{}, err
	}
	nonce := strconv.FormatUint(binary.BigEndian.Uint64(n[:])%1e10, 10)
	ts := now.Unix()
	return message.Envelope{
		Encrypt:      enc,
		MsgSignature: wxcrypt.Signature(token, strconv.FormatInt(ts, 10), nonce, enc),
		TimeStamp:    ts,
		Nonce:        nonce,
	}, nil
}
