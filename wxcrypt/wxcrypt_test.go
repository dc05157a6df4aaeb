package wxcrypt

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// vectorFile is the shared, independently recomputed vector set.
type vectorFile struct {
	Decrypt []struct {
		Name, AppID, Body, Format, Nonce, Timestamp, Token string
		EncodingAESKey                                     string `json:"encoding_aes_key"`
		Encrypt                                            string
		ExpectMsg                                          string `json:"expect_msg"`
		ExpectPad                                          int    `json:"expect_pad"`
		ExpectRandom                                       string `json:"expect_random"`
		MsgSignature                                       string `json:"msg_signature"`
		Signature                                          string
	}
	Encrypt []struct {
		Name, AppID, Msg, Nonce, Random, Timestamp, Token string
		EncodingAESKey                                    string `json:"encoding_aes_key"`
		ExpectEncrypt                                     string `json:"expect_encrypt"`
		ExpectMsgSignature                                string `json:"expect_msg_signature"`
	}
	MustReject []struct {
		Name, AppID, Encrypt, Nonce, Timestamp, Token string
		EncodingAESKey                                string `json:"encoding_aes_key"`
		MsgSignature                                  string `json:"msg_signature"`
	} `json:"must_reject"`
	Signatures []struct {
		Name, Echostr, Nonce, Signature, Timestamp, Token string
	}
}

func loadVectors(t testing.TB) vectorFile {
	t.Helper()
	data, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatalf("reading the vectors: %v", err)
	}
	var v vectorFile
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Decrypt) == 0 || len(v.Encrypt) == 0 || len(v.MustReject) == 0 || len(v.Signatures) == 0 {
		t.Fatal("vector file has an empty section")
	}
	return v
}

// vectorsPath is the repository's copy of the project's shared vectors.
var vectorsPath = filepath.Join("..", "testdata", "vectors.json")

// TestVectorsMatchShared checks the copy against the shared original when
// the repository sits beside it, so an update there is not missed here.
func TestVectorsMatchShared(t *testing.T) {
	shared, err := os.ReadFile(filepath.Join("..", "..", "shared", "testvectors", "vectors.json"))
	if err != nil {
		t.Skip("no ../shared/testvectors beside the repository; the copy in testdata/ is used")
	}
	local, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(shared, local) {
		t.Fatal("testdata/vectors.json differs from ../shared/testvectors/vectors.json: copy the new vectors in")
	}
}

func TestSignatureVectors(t *testing.T) {
	for _, v := range loadVectors(t).Signatures {
		t.Run(v.Name, func(t *testing.T) {
			if got := Signature(v.Token, v.Timestamp, v.Nonce); got != v.Signature {
				t.Fatalf("Signature = %s, want %s", got, v.Signature)
			}
			if !VerifySignature(v.Signature, v.Token, v.Timestamp, v.Nonce) {
				t.Fatal("VerifySignature rejected the vector")
			}
			if !VerifySignatureBytes([]byte(v.Signature), v.Token, v.Timestamp, v.Nonce, nil) {
				t.Fatal("VerifySignatureBytes rejected the vector")
			}
			bad := []byte(v.Signature)
			bad[0] ^= 1
			if VerifySignature(string(bad), v.Token, v.Timestamp, v.Nonce) {
				t.Fatal("VerifySignature accepted a changed signature")
			}
			if VerifySignature(strings.ToUpper(v.Signature), v.Token, v.Timestamp, v.Nonce) {
				t.Fatal("VerifySignature accepted uppercase hex")
			}
		})
	}
}

func TestDecryptVectors(t *testing.T) {
	for _, v := range loadVectors(t).Decrypt {
		t.Run(v.Name, func(t *testing.T) {
			if got := Signature(v.Token, v.Timestamp, v.Nonce, v.Encrypt); got != v.MsgSignature {
				t.Fatalf("msg_signature = %s, want %s", got, v.MsgSignature)
			}
			if !VerifySignatureBytes([]byte(v.MsgSignature), v.Token, v.Timestamp, v.Nonce, []byte(v.Encrypt)) {
				t.Fatal("VerifySignatureBytes rejected msg_signature")
			}
			if v.Signature != "" && Signature(v.Token, v.Timestamp, v.Nonce) != v.Signature {
				t.Fatal("URL signature mismatch")
			}
			key := MustParseKey(v.EncodingAESKey)
			msg, err := key.Decrypt(v.Encrypt, v.AppID)
			if err != nil {
				t.Fatal(err)
			}
			if string(msg) != v.ExpectMsg {
				t.Fatalf("message = %q, want %q", msg, v.ExpectMsg)
			}
			// The random prefix and pad length, checked with a raw decryption.
			plain := rawDecrypt(t, key, v.Encrypt)
			if got := string(plain[:16]); got != v.ExpectRandom {
				t.Fatalf("random prefix = %s, want %s", got, v.ExpectRandom)
			}
			if got := int(plain[len(plain)-1]); got != v.ExpectPad {
				t.Fatalf("pad = %d, want %d", got, v.ExpectPad)
			}
			c, err := NewCipher(v.AppID, key)
			if err != nil {
				t.Fatal(err)
			}
			msg2, used, err := c.Decrypt([]byte(v.Encrypt))
			if err != nil || used != key || string(msg2) != v.ExpectMsg {
				t.Fatalf("Cipher.Decrypt = %q, %v, %v", msg2, used, err)
			}
		})
	}
}

// rawDecrypt decrypts without any check, to look at the random and pad.
func rawDecrypt(t *testing.T, k *Key, encrypt string) []byte {
	t.Helper()
	ct, err := base64.StdEncoding.DecodeString(encrypt)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := aes.NewCipher(k.raw[:])
	out := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, k.raw[:16]).CryptBlocks(out, ct)
	return out
}

func TestEncryptVectors(t *testing.T) {
	for _, v := range loadVectors(t).Encrypt {
		t.Run(v.Name, func(t *testing.T) {
			key := MustParseKey(v.EncodingAESKey)
			got, err := key.Encrypt([]byte(v.Random), []byte(v.Msg), v.AppID)
			if err != nil {
				t.Fatal(err)
			}
			if got != v.ExpectEncrypt {
				t.Fatalf("Encrypt = %s\nwant      %s", got, v.ExpectEncrypt)
			}
			if v.ExpectMsgSignature != "" {
				if sig := Signature(v.Token, v.Timestamp, v.Nonce, got); sig != v.ExpectMsgSignature {
					t.Fatalf("MsgSignature = %s, want %s", sig, v.ExpectMsgSignature)
				}
			}
			back, err := key.Decrypt(got, v.AppID)
			if err != nil || string(back) != v.Msg {
				t.Fatalf("round trip = %q, %v", back, err)
			}
		})
	}
}

func TestMustRejectVectors(t *testing.T) {
	for _, v := range loadVectors(t).MustReject {
		t.Run(v.Name, func(t *testing.T) {
			sigOK := VerifySignature(v.MsgSignature, v.Token, v.Timestamp, v.Nonce, v.Encrypt)
			key := MustParseKey(v.EncodingAESKey)
			_, err := key.Decrypt(v.Encrypt, v.AppID)
			if sigOK && err == nil {
				t.Fatal("vector was accepted: signature and decryption both passed")
			}
			switch {
			case !sigOK: // rejected at the signature, as a handler must do first
			case !errors.Is(err, ErrAppID):
				t.Fatalf("want ErrAppID, got %v", err)
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	const official = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	// The strict decoder rejects the official key; ParseKey must not.
	if _, err := base64.StdEncoding.Strict().DecodeString(official + "="); err == nil {
		t.Fatal("expected the official key to carry non-zero spare bits")
	}
	k, err := ParseKey(official)
	if err != nil {
		t.Fatalf("official key rejected: %v", err)
	}
	if strings.Contains(fmt.Sprintf("%v %+v %#v %s", k, k, k, k), official[:10]) {
		t.Fatal("formatting a Key shows the key")
	}
	bad := []struct{ name, key string }{
		{"empty", ""},
		{"42 chars", official[:42]},
		{"44 chars", official + "A"},
		{"with padding", official[:42] + "="},
		{"space", official[:42] + " "},
		{"newline", official[:42] + "\n"},
		{"non-ascii", official[:41] + "é"},
		{"dash", official[:42] + "-"},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			_, err := ParseKey(b.key)
			if !errors.Is(err, ErrKey) {
				t.Fatalf("want ErrKey, got %v", err)
			}
			if len(b.key) > 10 && strings.Contains(err.Error(), b.key[:10]) {
				t.Fatal("error shows the key")
			}
		})
	}
}

func TestGenerate(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		key, err := GenerateEncodingAESKey()
		if err != nil {
			t.Fatal(err)
		}
		if len(key) != 43 || strings.Trim(key, alnum) != "" {
			t.Fatalf("key %q is not 43 letters and digits", key)
		}
		if _, err := ParseKey(key); err != nil {
			t.Fatalf("generated key does not parse: %v", err)
		}
		tok, err := GenerateToken()
		if err != nil || !ValidToken(tok) {
			t.Fatalf("token %q invalid: %v", tok, err)
		}
		if seen[key] || seen[tok] {
			t.Fatal("repeated value")
		}
		seen[key], seen[tok] = true, true
	}
	for tok, want := range map[string]bool{"AAAAA": true, "ab": false, "abc": true, strings.Repeat("a", 32): true, strings.Repeat("a", 33): false, "a-b-c": false, "中文abc": false} {
		if ValidToken(tok) != want {
			t.Errorf("ValidToken(%q) != %v", tok, want)
		}
	}
}

// sealRaw builds an envelope with full control over its fields, to produce
// the broken inputs the decoder must reject.
func sealRaw(k *Key, plain []byte) string {
	out := make([]byte, len(plain))
	cipher.NewCBCEncrypter(k.block, k.raw[:16]).CryptBlocks(out, plain)
	return base64.StdEncoding.EncodeToString(out)
}

func plainWith(msgLen uint32, msg, appID string, pad int, padByte byte) []byte {
	p := make([]byte, 16, 64)
	p = binary.BigEndian.AppendUint32(p, msgLen)
	p = append(p, msg...)
	p = append(p, appID...)
	for i := 0; i < pad; i++ {
		p = append(p, padByte)
	}
	return p
}

func TestDecryptRejects(t *testing.T) {
	k := MustParseKey("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
	const app = "wx0123456789abcdef"
	good := plainWith(5, "hello", app, 0, 0)
	padN := BlockSize - len(good)%BlockSize
	okEnvelope := sealRaw(k, plainWith(5, "hello", app, padN, byte(padN)))
	if _, err := k.Decrypt(okEnvelope, app); err != nil {
		t.Fatalf("control envelope rejected: %v", err)
	}
	cases := []struct {
		name    string
		encrypt string
		want    error
	}{
		{"empty", "", ErrMalformed},
		{"bad base64", "!!!notbase64!!!", ErrMalformed},
		{"not a multiple of 16", base64.StdEncoding.EncodeToString(make([]byte, 40)), ErrMalformed},
		{"16 but not 32", base64.StdEncoding.EncodeToString(make([]byte, 48)), ErrPadding},
		{"pad zero", sealRaw(k, plainWith(5, "hello", app, padN, 0)), ErrPadding},
		{"pad too large", sealRaw(k, append(plainWith(5, "hello", app, padN-1, byte(padN)), 33)), ErrPadding},
		{"pad bytes differ", sealRaw(k, append(plainWith(5, "hello", app, padN-1, 7), byte(padN))), ErrPadding},
		{"length past the end", sealRaw(k, plainWith(5000, "hello", app, padN, byte(padN))), ErrPadding},
		{"length huge", sealRaw(k, plainWith(0xFFFFFFFF, "hello", app, padN, byte(padN))), ErrPadding},
		{"wrong appid", sealRaw(k, plainWith(5, "hello", "wx0123456789abcdeX", padN, byte(padN))), ErrAppID},
		{"appid missing", sealRaw(k, plainWith(5, "hello", "", 7, 7)), ErrAppID},
		{"full-block pad shorter than header", sealRaw(k, bytes.Repeat([]byte{32}, 32)), ErrPadding},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg, err := k.Decrypt(c.encrypt, app)
			if !errors.Is(err, c.want) {
				t.Fatalf("want %v, got %v (msg %q)", c.want, err, msg)
			}
			if msg != nil {
				t.Fatal("a message came back with the error")
			}
		})
	}
}

func TestCipherKeyRotation(t *testing.T) {
	oldKey := MustParseKey("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
	newKey := MustParseKey("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	const app = "wxba5fad812f8e6fb9"
	c, err := NewCipher(app, newKey, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []*Key{oldKey, newKey} {
		enc, _ := k.Encrypt(nil, []byte("payload"), app)
		msg, used, err := c.Decrypt([]byte(enc))
		if err != nil || used != k || string(msg) != "payload" {
			t.Fatalf("key %s: msg %q used %v err %v", k, msg, used, err)
		}
		// The reply is sealed with the key that opened the request.
		reply, _ := c.EncryptWith(used, []byte("reply"))
		if back, err := k.Decrypt(reply, app); err != nil || string(back) != "reply" {
			t.Fatalf("reply not sealed with the opening key: %v", err)
		}
	}
	third := MustParseKey("BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB")
	enc, _ := third.Encrypt(nil, []byte("x"), app)
	if _, _, err := c.Decrypt([]byte(enc)); err == nil {
		t.Fatal("a key the Cipher does not hold opened the envelope")
	}
	if _, err := NewCipher("", newKey); !errors.Is(err, ErrKey) {
		t.Fatalf("empty AppID: %v", err)
	}
	if _, err := NewCipher(app); !errors.Is(err, ErrKey) {
		t.Fatalf("no keys: %v", err)
	}
	if _, err := NewCipher(app, &Key{}); !errors.Is(err, ErrKey) {
		t.Fatalf("zero key: %v", err)
	}
}

// TestRoundTripProperty: every length from 0 to 300 (every pad from 1 to
// 32 several times over), random keys, appids and contents.
func TestRoundTripProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	pads := map[int]bool{}
	for n := 0; n <= 300; n++ {
		raw, _ := GenerateEncodingAESKey()
		k := MustParseKey(raw)
		app := "wx" + strings.Repeat(string(rune('a'+n%26)), r.IntN(20))
		msg := make([]byte, n)
		for i := range msg {
			msg[i] = byte(r.Uint32())
		}
		enc, err := k.Encrypt(nil, msg, app)
		if err != nil {
			t.Fatal(err)
		}
		ct, _ := base64.StdEncoding.DecodeString(enc)
		if len(ct)%BlockSize != 0 {
			t.Fatalf("n=%d: ciphertext %d bytes", n, len(ct))
		}
		pads[len(ct)-(headerLen+n+len(app))] = true
		got, err := k.Decrypt(enc, app)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("n=%d: round trip failed: %v", n, err)
		}
	}
	for p := 1; p <= 32; p++ {
		if !pads[p] {
			t.Errorf("pad %d never produced", p)
		}
	}
	if pads[0] {
		t.Error("a pad of 0 was produced")
	}
}

func TestDecryptBufferReuse(t *testing.T) {
	k := MustParseKey("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
	c, _ := NewCipher("wxapp", k)
	buf := make([]byte, 0, 4096)
	for i := 0; i < 3; i++ {
		want := strings.Repeat("m", 100*i+1)
		enc, _ := c.Encrypt([]byte(want))
		msg, _, err := c.DecryptBuffer(buf, []byte(enc))
		if err != nil || string(msg) != want {
			t.Fatalf("round %d: %v", i, err)
		}
	}
}

func TestErrorsShowNoSecrets(t *testing.T) {
	const keyText = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	k := MustParseKey(keyText)
	enc, _ := k.Encrypt(nil, []byte("secret message body"), "wxright")
	_, err := k.Decrypt(enc, "wxwrong")
	for _, s := range []string{keyText, "secret message", "wxright"} {
		if strings.Contains(err.Error(), s) {
			t.Fatalf("error %q shows %q", err, s)
		}
	}
}

func FuzzDecrypt(f *testing.F) {
	k := MustParseKey("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
	good, _ := k.Encrypt(nil, []byte("<xml><Content>hi</Content></xml>"), "wxb11529c136998cb6")
	f.Add([]byte(good))
	f.Add([]byte(""))
	f.Add([]byte("AAAA"))
	f.Add([]byte(base64.StdEncoding.EncodeToString(make([]byte, 32))))
	c, _ := NewCipher("wxb11529c136998cb6", k, MustParseKey("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
	f.Fuzz(func(t *testing.T, encrypt []byte) {
		msg, used, err := c.Decrypt(encrypt)
		if err != nil {
			if msg != nil || used != nil {
				t.Fatal("results with an error")
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrPadding) && !errors.Is(err, ErrAppID) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		// Whatever opened must seal back to something that opens the same.
		again, _ := used.Encrypt(nil, msg, c.AppID())
		back, _, err := c.Decrypt([]byte(again))
		if err != nil || !bytes.Equal(back, msg) {
			t.Fatalf("reseal failed: %v", err)
		}
	})
}

func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("hello"), "wxapp", uint8(0))
	f.Add([]byte{}, "", uint8(31))
	f.Add(bytes.Repeat([]byte{32}, 64), "wx0123456789abcdef", uint8(7))
	f.Fuzz(func(t *testing.T, msg []byte, app string, seed uint8) {
		raw := strings.Repeat(string(alnum[int(seed)%len(alnum)]), 43)
		k := MustParseKey(raw)
		enc, err := k.Encrypt(nil, msg, app)
		if err != nil {
			t.Fatal(err)
		}
		got, err := k.Decrypt(enc, app)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("round trip failed: %v", err)
		}
	})
}

func FuzzParseKey(f *testing.F) {
	f.Add("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKey(s)
		if err != nil {
			if !errors.Is(err, ErrKey) || (len(s) >= 8 && strings.Contains(err.Error(), s)) {
				t.Fatalf("bad error %v", err)
			}
			return
		}
		if len(s) != 43 || k.block == nil {
			t.Fatalf("accepted %q", s)
		}
	})
}

func BenchmarkVerifySignature(b *testing.B) {
	sig := []byte(Signature("AAAAA", "1714112445", "415670741", "+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao"))
	enc := []byte("+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao")
	b.ReportAllocs()
	for b.Loop() {
		if !VerifySignatureBytes(sig, "AAAAA", "1714112445", "415670741", enc) {
			b.Fatal("mismatch")
		}
	}
}

func BenchmarkDecrypt(b *testing.B) {
	k := MustParseKey("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
	c, _ := NewCipher("wxb11529c136998cb6", k)
	enc, _ := c.Encrypt([]byte("<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName><CreateTime>1409735668</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[abcdteT]]></Content><MsgId>6054768590064713728</MsgId></xml>"))
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := c.DecryptBuffer(buf, []byte(enc)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncrypt(b *testing.B) {
	k := MustParseKey("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
	msg := []byte(`{"ToUserName":"o9AgO5Kd5ggOC-bXrbNODIiE3bGY","FromUserName":"gh_97417a04a28d","CreateTime":1714112445,"MsgType":"transfer_customer_service"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.AppendEncrypt(nil, nil, msg, "wxb11529c136998cb6"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDecryptPaddingEdges covers pads a looser check would let through: a
// pad value of 33 whose 33 bytes all hold 33 (only the upper bound rejects
// it), and a pad whose first byte alone is wrong (an off-by-one in the pad
// loop would miss it).
func TestDecryptPaddingEdges(t *testing.T) {
	k := MustParseKey("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
	// 20 + 0 + 11 = 31 bytes, then 33 bytes of 33: 64 bytes in all.
	const app11 = "wx012345678"
	if _, err := k.Decrypt(sealRaw(k, plainWith(0, "", app11, 33, 33)), app11); !errors.Is(err, ErrPadding) {
		t.Fatalf("pad 33: want ErrPadding, got %v", err)
	}
	// 20 + 1 + 11 = 32 bytes, then a full block of pad: 32 bytes of 32
	// except the first, which is 31.
	p := plainWith(1, "m", app11, 32, 32)
	p[32] = 31
	if _, err := k.Decrypt(sealRaw(k, p), app11); !errors.Is(err, ErrPadding) {
		t.Fatalf("first pad byte wrong: want ErrPadding, got %v", err)
	}
	// Control: the same layout with a correct pad opens.
	p[32] = 32
	if msg, err := k.Decrypt(sealRaw(k, p), app11); err != nil || string(msg) != "m" {
		t.Fatalf("control: %q, %v", msg, err)
	}
}

// TestCipherReportsAppIDAcrossKeys: an envelope opened by a previous key
// but sealed for another AppID reports ErrAppID, not the current key's
// padding error, so that a wrong AppID is told apart during a rotation.
func TestCipherReportsAppIDAcrossKeys(t *testing.T) {
	current := MustParseKey("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	previous := MustParseKey("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
	c, err := NewCipher("wxright", current, previous)
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := previous.Encrypt([]byte("0123456789abcdef"), []byte("hello"), "wxwrong")
	if _, _, err := c.Decrypt([]byte(enc)); !errors.Is(err, ErrAppID) {
		t.Fatalf("want ErrAppID, got %v", err)
	}
	// With a single key nothing changes.
	enc, _ = current.Encrypt([]byte("0123456789abcdef"), []byte("hello"), "wxwrong")
	if _, _, err := c.Decrypt([]byte(enc)); !errors.Is(err, ErrAppID) {
		t.Fatalf("current key: want ErrAppID, got %v", err)
	}
}

// TestUnparsedKeyIsAnError: a nil or zero Key is a configuration error,
// not a panic, wherever a Key is taken.
func TestUnparsedKeyIsAnError(t *testing.T) {
	good := MustParseKey("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
	c, _ := NewCipher("wxapp", good)
	for name, k := range map[string]*Key{"nil": nil, "zero": {}} {
		if _, err := k.Encrypt(nil, []byte("x"), "wxapp"); !errors.Is(err, ErrKey) {
			t.Errorf("%s Key.Encrypt: %v", name, err)
		}
		if _, err := k.AppendEncrypt(nil, nil, []byte("x"), "wxapp"); !errors.Is(err, ErrKey) {
			t.Errorf("%s Key.AppendEncrypt: %v", name, err)
		}
		if _, err := k.Decrypt("AAAA", "wxapp"); !errors.Is(err, ErrKey) {
			t.Errorf("%s Key.Decrypt: %v", name, err)
		}
		if _, err := c.EncryptWith(k, []byte("x")); !errors.Is(err, ErrKey) {
			t.Errorf("%s Cipher.EncryptWith: %v", name, err)
		}
		_ = fmt.Sprint(k) // String on a nil or zero Key does not panic
	}
}
