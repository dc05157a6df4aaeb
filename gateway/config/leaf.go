package config

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/wxgate/wxgate/message"
)

// setLeaf parses text into v, a leaf that is not a secret or a list.
// Errors never repeat text unless it is a short keyword.
func setLeaf(v reflect.Value, text string) error {
	switch v.Type() {
	case durationType:
		d, err := parseDuration(text)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
		return nil
	case byteSizeType:
		b, err := parseByteSize(text)
		if err != nil {
			return errors.New("must be a number of bytes, like 1048576 or 1MiB: " + err.Error())
		}
		v.SetInt(int64(b))
		return nil
	case modeType:
		m, err := message.ParseMode(text)
		if err != nil {
			return errors.New(quoteShort(text) + " is not auto, plain, compat or safe")
		}
		v.Set(reflect.ValueOf(m))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(text)
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(text))
		if err != nil {
			return errors.New("must be true or false")
		}
		v.SetBool(b)
	case reflect.Int:
		n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 32)
		if err != nil {
			return errors.New("must be an integer")
		}
		v.SetInt(n)
	default:
		return errors.New("cannot be set from a single value")
	}
	return nil
}

// parseDuration parses a Go duration ("1m30s", "720h"), "0", or a number
// of days ("30d").
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err == nil && n >= 0 && n <= 100*365 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		if _, nerr := strconv.ParseFloat(s, 64); nerr == nil {
			return 0, errors.New("must be a duration with a unit, like 10s, 5m or 720h")
		}
		return 0, errors.New("must be a duration like 10s, 5m, 720h or 30d")
	}
	return d, nil
}

// splitList splits a comma-separated value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// quoteShort quotes a non-secret value for an error, cut to 32 bytes.
func quoteShort(s string) string {
	if len(s) > 32 {
		return strconv.Quote(s[:32]) + "…"
	}
	return strconv.Quote(s)
}
