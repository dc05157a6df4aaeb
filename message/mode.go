package message

import (
	"fmt"
	"strings"
)

// Mode is a push's encryption mode, the console's 消息加解密方式. The
// receiving side (push) and the sending side (wechatsim) share it.
type Mode uint8

const (
	// ModeAuto is the zero value. A receiver accepts every push that
	// verifies; a sender picks ModeSafe when it has an EncodingAESKey and
	// ModePlain otherwise.
	ModeAuto Mode = iota
	// ModePlain is plaintext (明文模式): the body is signed by the URL's
	// signature only, which does not cover it.
	ModePlain
	// ModeCompat is compatible mode (兼容模式): the plaintext fields plus
	// Encrypt, which is authoritative.
	ModeCompat
	// ModeSafe is safe mode (安全模式): ToUserName and Encrypt only.
	ModeSafe
)

var modeNames = [...]string{"auto", "plain", "compat", "safe"}

// String returns "auto", "plain", "compat" or "safe".
func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("Mode(%d)", m)
}

// ParseMode parses "auto", "plain", "compat" or "safe", ignoring case and
// surrounding space; "" is ModeAuto. The console's other names are accepted too:
// "plaintext" and "raw" for plain, "compatible" for compat, "aes" for safe.
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return ModeAuto, nil
	case "plain", "plaintext", "raw":
		return ModePlain, nil
	case "compat", "compatible":
		return ModeCompat, nil
	case "safe", "aes":
		return ModeSafe, nil
	}
	return 0, fmt.Errorf("unknown mode %q (want auto, plain, compat or safe)", s)
}
