// Package wxcrypt implements the cryptography of WeChat's message push:
// the SHA-1 request signatures, the EncodingAESKey, and the AES-256-CBC
// envelope that carries messages in compatible and safe mode.
//
// Errors are sentinels that can be told apart with errors.Is. None of them
// ever contains a token, a key or a decrypted message.
package wxcrypt

import (
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
)

// Signature returns WeChat's signature over token, timestamp, nonce and any
// extra parts (the Encrypt field for msg_signature): the parts sorted
// bytewise, concatenated with no separator, hashed with SHA-1, and written
// as lowercase hex.
func Signature(token, timestamp, nonce string, extra ...string) string {
	var sum [sha1.Size * 2]byte
	signInto(&sum, token, timestamp, nonce, extra)
	return string(sum[:])
}

// VerifySignature reports whether signature is the Signature of the given
// parts. The comparison takes constant time.
func VerifySignature(signature, token, timestamp, nonce string, extra ...string) bool {
	if len(signature) != sha1.Size*2 {
		return false
	}
	var sum [sha1.Size * 2]byte
	signInto(&sum, token, timestamp, nonce, extra)
	return subtle.ConstantTimeCompare(sum[:], []byte(signature)) == 1
}

// VerifySignatureBytes is VerifySignature for a signature and an extra part
// held as byte slices, as they arrive in a request, so that the hot path
// converts and allocates nothing. A nil extra means no extra part.
func VerifySignatureBytes(signature []byte, token, timestamp, nonce string, extra []byte) bool {
	if len(signature) != sha1.Size*2 {
		return false
	}
	parts := [4][]byte{[]byte(token), []byte(timestamp), []byte(nonce), extra}
	n := 3
	if extra != nil {
		n = 4
	}
	var sum [sha1.Size * 2]byte
	hashSorted(&sum, parts[:n])
	return subtle.ConstantTimeCompare(sum[:], signature) == 1
}

func signInto(sum *[sha1.Size * 2]byte, token, timestamp, nonce string, extra []string) {
	if len(extra) == 0 {
		// The URL signature: a fixed array keeps the parts on the stack.
		parts := [3][]byte{[]byte(token), []byte(timestamp), []byte(nonce)}
		hashSorted(sum, parts[:])
		return
	}
	parts := make([][]byte, 0, 3+len(extra))
	parts = append(parts, []byte(token), []byte(timestamp), []byte(nonce))
	for _, e := range extra {
		parts = append(parts, []byte(e))
	}
	hashSorted(sum, parts)
}

// hashSorted sorts parts in place (insertion sort: there are three to five
// of them) and writes the hex SHA-1 of their concatenation into sum. The
// concatenation is built in a stack buffer, so a typical push hashes
// without allocating.
func hashSorted(sum *[sha1.Size * 2]byte, parts [][]byte) {
	for i := 1; i < len(parts); i++ {
		for j := i; j > 0 && string(parts[j]) < string(parts[j-1]); j-- {
			parts[j], parts[j-1] = parts[j-1], parts[j]
		}
	}
	var stack [1024]byte
	buf := stack[:0]
	for _, p := range parts {
		buf = append(buf, p...)
	}
	digest := sha1.Sum(buf)
	hex.Encode(sum[:], digest[:])
}
