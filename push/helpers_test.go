package push

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/wxcrypt"
)

const (
	testAppID = "wxba5fad812f8e6fb9"
	testToken = "AAAAA"
	testKey   = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	testKey2  = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
)

// testNow is the fixed clock of these tests.
var testNow = time.Unix(1714112445, 0)

// wire builds a push the way WeChat sends it.
type wire struct {
	mode      Mode // ModePlain, ModeCompat or ModeSafe
	format    message.Format
	plaintext []byte // the message as the chosen format
	key       string // EncodingAESKey to seal with
	appID     string
	token     string
	timestamp string
	nonce     string
	// mutate, when set, changes the query or body after signing.
	mutate func(q url.Values, body *[]byte)
}

func (w wire) request(t testing.TB) *http.Request {
	t.Helper()
	if w.key == "" {
		w.key = testKey
	}
	if w.appID == "" {
		w.appID = testAppID
	}
	if w.token == "" {
		w.token = testToken
	}
	if w.timestamp == "" {
		w.timestamp = strconv.FormatInt(testNow.Unix(), 10)
	}
	if w.nonce == "" {
		// One nonce per distinct push, as WeChat signs each one anew; the
		// same push sent twice reuses it, as a replay or retransmission.
		h := fnv.New32a()
		fmt.Fprintf(h, "%d|%d|%s", w.mode, w.format, w.plaintext)
		w.nonce = strconv.FormatUint(uint64(h.Sum32()), 10)
	}
	q := url.Values{}
	q.Set("signature", wxcrypt.Signature(w.token, w.timestamp, w.nonce))
	q.Set("timestamp", w.timestamp)
	q.Set("nonce", w.nonce)
	body := w.plaintext
	if w.mode != ModePlain {
		enc, err := wxcrypt.MustParseKey(w.key).Encrypt(nil, w.plaintext, w.appID)
		if err != nil {
			t.Fatal(err)
		}
		body = sealBody(t, w.mode, w.format, w.plaintext, enc)
		q.Set("encrypt_type", "aes")
		q.Set("msg_signature", wxcrypt.Signature(w.token, w.timestamp, w.nonce, enc))
		q.Set("openid", "o9AgO5Kd5ggOC-bXrbNODIiE3bGY")
	}
	if w.mutate != nil {
		w.mutate(q, &body)
	}
	r := httptest.NewRequest(http.MethodPost, "/wechat?"+q.Encode(), bytes.NewReader(body))
	return r
}

// sealBody wraps enc in a safe-mode body, or adds it to the plaintext
// fields for compatible mode.
func sealBody(t testing.TB, mode Mode, f message.Format, plaintext []byte, enc string) []byte {
	t.Helper()
	env := message.Envelope{ToUserName: "gh_97417a04a28d", Encrypt: enc}
	if mode == ModeSafe {
		return env.Append(nil, f)
	}
	// Compatible: the plaintext message with Encrypt added at the end.
	switch f {
	case message.FormatXML:
		i := bytes.LastIndex(plaintext, []byte("</xml>"))
		out := append([]byte(nil), plaintext[:i]...)
		out = append(out, "<Encrypt><![CDATA["+enc+"]]></Encrypt></xml>"...)
		return out
	default:
		i := bytes.LastIndexByte(plaintext, '}')
		out := append([]byte(nil), plaintext[:i]...)
		out = append(out, `,"Encrypt":"`+enc+`"}`...)
		return out
	}
}

// logBuffer collects log output safely across goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newTestHandler(t testing.TB, cfg Config, r *Router) (*Handler, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	if cfg.AppID == "" {
		cfg.AppID = testAppID
	}
	if cfg.Token == "" {
		cfg.Token = testToken
	}
	if cfg.AESKeys == nil && cfg.Mode != ModePlain {
		// The default test key comes with plaintext allowed in auto mode,
		// so that one handler takes every mode; tests of the refusal pass
		// their AESKeys themselves.
		cfg.AESKeys = []string{testKey}
		cfg.AllowPlaintext = cfg.Mode == ModeAuto
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return testNow }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	h, err := NewHandler(cfg, r)
	if err != nil {
		t.Fatal(err)
	}
	return h, logs
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func readAll(t testing.TB, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// forgeCBC encrypts whole blocks with the key of testKey, IV = key[:16],
// with no padding of its own: a way to build envelopes with broken fields.
func forgeCBC(_ *wxcrypt.Key, plain []byte) string {
	raw, err := base64.StdEncoding.DecodeString(testKey + "=")
	if err != nil {
		panic(err)
	}
	block, _ := aes.NewCipher(raw)
	out := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, raw[:16]).CryptBlocks(out, plain)
	return base64.StdEncoding.EncodeToString(out)
}

type decryptVector struct {
	Name, AppID, Body, Format, Nonce, Timestamp, Token string
	EncodingAESKey                                     string `json:"encoding_aes_key"`
	Encrypt                                            string
	ExpectMsg                                          string `json:"expect_msg"`
	MsgSignature                                       string `json:"msg_signature"`
}

func loadDecryptVectors(t *testing.T) []decryptVector {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "vectors.json"))
	if err != nil {
		t.Fatalf("reading the vectors: %v", err)
	}
	var v struct{ Decrypt []decryptVector }
	if err := json.Unmarshal(data, &v); err != nil || len(v.Decrypt) == 0 {
		t.Fatalf("vectors: %v", err)
	}
	return v.Decrypt
}
