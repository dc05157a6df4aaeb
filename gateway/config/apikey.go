package config

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"slices"
	"strings"
)

// hashPrefix starts an API key's SecretHash.
const hashPrefix = "sha256:"

// HashAPIKey returns the SecretHash of an API key: "sha256:" and the hex
// SHA-256 of the key. A plain hash suffices because keys are random and
// long (at least 16 characters, 32 or more recommended), not passwords.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hashPrefix + hex.EncodeToString(sum[:])
}

// Match reports whether presented is this key, in constant time.
func (k *APIKey) Match(presented string) bool {
	if k.Secret.IsSet() {
		return k.Secret.Equal(presented)
	}
	want, ok := parseHash(k.SecretHash)
	if !ok {
		return false
	}
	got := sha256.Sum256([]byte(presented))
	return subtle.ConstantTimeCompare(want, got[:]) == 1
}

// Allows reports whether the key may use scope on app.
func (k *APIKey) Allows(app, scope string) bool {
	return slices.Contains(k.Scopes, scope) && (slices.Contains(k.Apps, "*") || slices.Contains(k.Apps, app))
}

// parseHash decodes a SecretHash.
func parseHash(h string) ([]byte, bool) {
	hexPart, ok := strings.CutPrefix(h, hashPrefix)
	if !ok || len(hexPart) != 2*sha256.Size {
		return nil, false
	}
	b, err := hex.DecodeString(hexPart)
	return b, err == nil
}
