package wxcrypt

import (
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
)

// Layout of the plaintext inside the envelope.
const (
	randomLen = 16 // random prefix
	lengthLen = 4  // big-endian message length
	headerLen = randomLen + lengthLen
	// BlockSize is the PKCS#7 block size WeChat pads to: 32, not AES's 16.
	BlockSize = 32
)

// Encrypt seals msg for appID: random ‖ uint32 big-endian len(msg) ‖ msg ‖
// appID, PKCS#7-padded to a multiple of 32 bytes, AES-256-CBC encrypted with
// IV = key[:16], and base64-encoded with the standard alphabet. random must
// be 16 bytes, or nil to draw them from crypto/rand.
func (k *Key) Encrypt(random, msg []byte, appID string) (string, error) {
	buf, err := k.seal(nil, random, msg, appID)
	if err != nil {
		return "", err
	}
	return string(buf), nil
}

// AppendEncrypt is Encrypt appending the base64 ciphertext to dst.
func (k *Key) AppendEncrypt(dst, random, msg []byte, appID string) ([]byte, error) {
	return k.seal(dst, random, msg, appID)
}

func (k *Key) seal(dst, random, msg []byte, appID string) ([]byte, error) {
	if err := k.check(); err != nil {
		return nil, err
	}
	if random != nil && len(random) != randomLen {
		return nil, fmt.Errorf("wxcrypt: random prefix must be %d bytes, got %d", randomLen, len(random))
	}
	if uint64(len(msg)) > 1<<31 {
		return nil, fmt.Errorf("%w: message too long", ErrPadding)
	}
	n := headerLen + len(msg) + len(appID)
	pad := BlockSize - n%BlockSize
	plain := make([]byte, n+pad)
	if random == nil {
		if _, err := rand.Read(plain[:randomLen]); err != nil {
			return nil, fmt.Errorf("wxcrypt: reading randomness: %w", err)
		}
	} else {
		copy(plain, random)
	}
	binary.BigEndian.PutUint32(plain[randomLen:], uint32(len(msg)))
	copy(plain[headerLen:], msg)
	copy(plain[headerLen+len(msg):], appID)
	for i := n; i < len(plain); i++ {
		plain[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(k.block, k.raw[:16]).CryptBlocks(plain, plain)
	start := len(dst)
	dst = append(dst, make([]byte, base64.StdEncoding.EncodedLen(len(plain)))...)
	base64.StdEncoding.Encode(dst[start:], plain)
	return dst, nil
}

// Decrypt opens a base64 envelope sealed for appID and returns the message.
func (k *Key) Decrypt(encrypt string, appID string) ([]byte, error) {
	if err := k.check(); err != nil {
		return nil, err
	}
	buf, ct, err := decodeCiphertext(nil, []byte(encrypt))
	if err != nil {
		return nil, err
	}
	return k.open(buf, ct, appID)
}

// check reports ErrKey for a nil Key or one not made by ParseKey.
func (k *Key) check() error {
	if k == nil || k.block == nil {
		return fmt.Errorf("%w: key is not parsed", ErrKey)
	}
	return nil
}

// decodeCiphertext base64-decodes encrypt into scratch space taken from dst
// and checks its size. It returns the scratch buffer, whose tail after the
// ciphertext has room for the plaintext, and the ciphertext.
func decodeCiphertext(dst, encrypt []byte) (buf, ct []byte, err error) {
	if len(encrypt) == 0 {
		return nil, nil, fmt.Errorf("%w: empty", ErrMalformed)
	}
	max := base64.StdEncoding.DecodedLen(len(encrypt))
	if cap(dst) < 2*max {
		dst = make([]byte, 2*max)
	}
	dst = dst[:2*max]
	n, err := base64.StdEncoding.Decode(dst[:max], encrypt)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: invalid base64", ErrMalformed)
	}
	if n == 0 || n%16 != 0 {
		return nil, nil, fmt.Errorf("%w: ciphertext is %d bytes, not a multiple of 16", ErrMalformed, n)
	}
	if n%BlockSize != 0 {
		return nil, nil, fmt.Errorf("%w: ciphertext is %d bytes, not a multiple of %d", ErrPadding, n, BlockSize)
	}
	return dst[max:], dst[:n], nil
}

// open decrypts ct into out (len(out) >= len(ct)), checks the padding, the
// length field and the AppID, and returns the message as a slice of out.
func (k *Key) open(out, ct []byte, appID string) ([]byte, error) {
	plain := out[:len(ct)]
	cipher.NewCBCDecrypter(k.block, k.raw[:16]).CryptBlocks(plain, ct)
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > BlockSize || pad > len(plain) {
		return nil, fmt.Errorf("%w: pad byte %d out of range", ErrPadding, pad)
	}
	var bad byte
	for _, b := range plain[len(plain)-pad:] {
		bad |= b ^ byte(pad)
	}
	if bad != 0 {
		return nil, fmt.Errorf("%w: pad bytes differ", ErrPadding)
	}
	plain = plain[:len(plain)-pad]
	if len(plain) < headerLen {
		return nil, fmt.Errorf("%w: plaintext shorter than its header", ErrPadding)
	}
	msgLen := binary.BigEndian.Uint32(plain[randomLen:headerLen])
	if uint64(msgLen) > uint64(len(plain)-headerLen) {
		return nil, fmt.Errorf("%w: length field %d past the end", ErrPadding, msgLen)
	}
	msg := plain[headerLen : headerLen+int(msgLen)]
	got := plain[headerLen+int(msgLen):]
	if subtle.ConstantTimeCompare(got, []byte(appID)) != 1 {
		return nil, ErrAppID
	}
	return msg, nil
}

// Cipher seals and opens envelopes for one AppID with a current key and
// any number of previous keys, so that a key rotation made in the WeChat
// console loses no message.
type Cipher struct {
	appID string
	keys  []*Key
}

// NewCipher returns a Cipher for appID. keys[0] is the current key, used to
// seal; the others are previous keys, tried in order when opening.
func NewCipher(appID string, keys ...*Key) (*Cipher, error) {
	if appID == "" {
		return nil, fmt.Errorf("%w: an AppID is required", ErrKey)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: at least one key is required", ErrKey)
	}
	for i, k := range keys {
		if k == nil || k.block == nil {
			return nil, fmt.Errorf("%w: key %d is not parsed", ErrKey, i)
		}
	}
	return &Cipher{appID: appID, keys: append([]*Key(nil), keys...)}, nil
}

// AppID returns the AppID the Cipher seals for and checks.
func (c *Cipher) AppID() string { return c.appID }

// Keys returns the Cipher's keys, current first.
func (c *Cipher) Keys() []*Key { return append([]*Key(nil), c.keys...) }

// Encrypt seals msg with the current key and fresh randomness.
func (c *Cipher) Encrypt(msg []byte) (string, error) {
	return c.keys[0].Encrypt(nil, msg, c.appID)
}

// EncryptWith seals msg with k, normally the key that opened the request
// being answered.
func (c *Cipher) EncryptWith(k *Key, msg []byte) (string, error) {
	return k.Encrypt(nil, msg, c.appID)
}

// Decrypt opens a base64 envelope with each key in turn and returns the
// message and the key that opened it. When no key opens it, the error is
// ErrAppID if some key opened the envelope but found another AppID in it,
// else the current key's.
func (c *Cipher) Decrypt(encrypt []byte) (msg []byte, k *Key, err error) {
	return c.DecryptBuffer(nil, encrypt)
}

// DecryptBuffer is Decrypt using buf's capacity as scratch space when it is
// large enough (2 × the decoded size), so that a caller can pool buffers.
// The message aliases the scratch space.
func (c *Cipher) DecryptBuffer(buf, encrypt []byte) (msg []byte, k *Key, err error) {
	out, ct, err := decodeCiphertext(buf, encrypt)
	if err != nil {
		return nil, nil, err
	}
	var first error
	for _, key := range c.keys {
		msg, err := key.open(out, ct, c.appID)
		if err == nil {
			return msg, key, nil
		}
		// A key that gets as far as the AppID has valid padding and
		// length: it is the right key, and its error is the telling one.
		if first == nil || errors.Is(err, ErrAppID) {
			first = err
		}
	}
	return nil, nil, first
}

// fingerprint returns the first 8 hex digits of the SHA-1 of b: enough to
// tell 256-bit keys apart in logs without revealing them. It is not for
// low-entropy secrets such as tokens, whose short hash could be searched.
func fingerprint(b []byte) string {
	sum := sha1.Sum(b)
	return hex.EncodeToString(sum[:4])
}
