package wxcrypt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// Errors returned by this package. Wrapped errors add a short reason; they
// never carry a token, a key or message content.
var (
	// ErrSignature means a signature or msg_signature did not match.
	ErrSignature = errors.New("wxcrypt: signature mismatch")
	// ErrPadding means the PKCS#7 padding or the length field was invalid.
	ErrPadding = errors.New("wxcrypt: bad padding or length")
	// ErrAppID means the envelope was sealed for another AppID.
	ErrAppID = errors.New("wxcrypt: appid mismatch")
	// ErrMalformed means the ciphertext is not valid base64 or has the wrong size.
	ErrMalformed = errors.New("wxcrypt: malformed ciphertext")
	// ErrKey means an EncodingAESKey or a Cipher's configuration is invalid.
	ErrKey = errors.New("wxcrypt: invalid EncodingAESKey")
)

// EncodingAESKeyLen is the length of an EncodingAESKey in characters.
const EncodingAESKeyLen = 43

// Key is an AES-256 key parsed from an EncodingAESKey. Its String method
// hides the key, so a Key can be logged safely.
type Key struct {
	raw   [32]byte
	block cipher.Block
	id    string // short fingerprint, safe to show
}

// ParseKey parses an EncodingAESKey: 43 characters of the standard base64
// alphabet that decode, with "=" appended, to exactly 32 bytes. Real keys
// have non-zero spare bits in the last character; they are accepted.
func ParseKey(encodingAESKey string) (*Key, error) {
	if len(encodingAESKey) != EncodingAESKeyLen {
		return nil, fmt.Errorf("%w: want %d characters, got %d", ErrKey, EncodingAESKeyLen, len(encodingAESKey))
	}
	for i := 0; i < len(encodingAESKey); i++ {
		if !isBase64Char(encodingAESKey[i]) {
			return nil, fmt.Errorf("%w: character %d is not in the base64 alphabet", ErrKey, i+1)
		}
	}
	// StdEncoding (not Strict) tolerates the spare bits WeChat leaves set.
	var raw [33]byte
	n, err := base64.StdEncoding.Decode(raw[:], []byte(encodingAESKey+"="))
	if err != nil || n != 32 {
		return nil, fmt.Errorf("%w: does not decode to 32 bytes", ErrKey)
	}
	k := &Key{}
	copy(k.raw[:], raw[:32])
	k.block, _ = aes.NewCipher(k.raw[:]) // cannot fail for 32 bytes
	k.id = fingerprint(k.raw[:])
	return k, nil
}

// MustParseKey is ParseKey for keys known to be valid, such as constants in
// tests. It panics on an invalid key without showing it.
func MustParseKey(encodingAESKey string) *Key {
	k, err := ParseKey(encodingAESKey)
	if err != nil {
		panic(err)
	}
	return k
}

// String returns a redacted description with the key's fingerprint.
func (k *Key) String() string {
	if k == nil {
		return "wxcrypt.Key(nil)"
	}
	return "wxcrypt.Key(" + k.id + ")"
}

// GoString is String, so that %#v does not print the key either.
func (k *Key) GoString() string { return k.String() }

// ID returns a short fingerprint of the key (the first 8 hex digits of the
// SHA-1 of the key bytes), safe to log, to tell keys apart during rotation.
func (k *Key) ID() string {
	if k == nil {
		return ""
	}
	return k.id
}

func isBase64Char(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/'
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomAlnum returns n characters drawn uniformly from [A-Za-z0-9].
func randomAlnum(n int) (string, error) {
	out := make([]byte, 0, n)
	var buf [64]byte
	for len(out) < n {
		if _, err := rand.Read(buf[:]); err != nil {
			return "", fmt.Errorf("wxcrypt: reading randomness: %w", err)
		}
		for _, b := range buf {
			// 248 = 4*62: rejecting larger bytes keeps the draw uniform.
			if b < 248 && len(out) < n {
				out = append(out, alnum[b%62])
			}
		}
	}
	return string(out), nil
}

// GenerateEncodingAESKey returns a new random EncodingAESKey of 43 letters
// and digits, the form the WeChat console generates.
func GenerateEncodingAESKey() (string, error) {
	return randomAlnum(EncodingAESKeyLen)
}

// GenerateToken returns a new random Token of 32 letters and digits, the
// longest the WeChat console accepts.
func GenerateToken() (string, error) {
	return randomAlnum(32)
}

// ValidToken reports whether token has the form the WeChat console accepts:
// 3 to 32 ASCII letters and digits.
func ValidToken(token string) bool {
	if len(token) < 3 || len(token) > 32 {
		return false
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
