package message

// Word-at-a-time helpers for the scanners' hot loops.

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

func load64(s string, i int) uint64 {
	_ = s[i+7]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}

// hasByte reports (with false positives only next to a true one) whether
// some byte of w equals c.
func hasByte(w uint64, c byte) uint64 {
	v := w ^ (lsb * uint64(c))
	return (v - lsb) &^ v
}

// skipJSONPlain returns the first index at or after i whose byte is not
// printable ASCII or is '"' or '\\', or len(s).
func skipJSONPlain(s string, i int) int {
	for i+8 <= len(s) {
		w := load64(s, i)
		if ((w-0x2020202020202020)|w|hasByte(w, '"')|hasByte(w, '\\'))&msb != 0 {
			break
		}
		i += 8
	}
	for i < len(s) {
		c := s[i]
		if c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
			break
		}
		i++
	}
	return i
}

// skipCDATAPlain returns the first index at or after i whose byte is not
// printable ASCII or is ']', or len(s).
func skipCDATAPlain(s string, i int) int {
	for i+8 <= len(s) {
		w := load64(s, i)
		if ((w-0x2020202020202020)|w|hasByte(w, ']'))&msb != 0 {
			break
		}
		i += 8
	}
	for i < len(s) {
		c := s[i]
		if c < 0x20 || c >= 0x80 || c == ']' {
			break
		}
		i++
	}
	return i
}
