package config

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// urlFields are the fields holding URLs, whose passwords and credential
// query parameters are hidden when printed.
var urlFields = map[string]bool{"store": true, "redis": true, "url": true, "openapi_url": true}

// Redacted returns the effective configuration as YAML, every default
// filled in, each secret shown as "[redacted]" with a comment saying where
// it came from, and passwords in URLs hidden.
func (c *Config) Redacted() string {
	if c == nil {
		return "# no configuration\n"
	}
	lines := []string{"# wxgate configuration, effective values; secrets redacted"}
	lines = append(lines, structLines(reflect.ValueOf(c).Elem())...)
	return strings.Join(lines, "\n") + "\n"
}

// String returns Redacted. Its value receiver makes a Config printed by
// value redacted too.
func (c Config) String() string { return c.Redacted() }

// GoString returns Redacted, for %#v.
func (c Config) GoString() string { return c.Redacted() }

// Format implements fmt.Formatter so that every verb prints Redacted.
func (c Config) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.Redacted()) }

// plainConfig is Config without its methods, for marshalling a copy.
type plainConfig Config

// MarshalJSON marshals the configuration with the secrets and URL
// passwords hidden, as Redacted does.
func (c Config) MarshalJSON() ([]byte, error) { return json.Marshal(c.redactedCopy()) }

// MarshalYAML implements go-yaml's InterfaceMarshaler like MarshalJSON.
func (c Config) MarshalYAML() (any, error) { return c.redactedCopy(), nil }

// redactedCopy copies c with the URLs' passwords hidden (Secrets hide
// themselves).
func (c Config) redactedCopy() *plainConfig {
	c.Store, c.Redis, c.NATS.URL, c.OpenAPIURL = redactURLs(c.Store), redactURLs(c.Redis), redactURLs(c.NATS.URL), redactURLs(c.OpenAPIURL)
	apps := make(map[string]*App, len(c.Apps))
	for name, a := range c.Apps {
		if a == nil {
			continue
		}
		cp := *a
		cp.Destinations = make([]Destination, len(a.Destinations))
		for i, d := range a.Destinations {
			if d.Webhook != nil {
				w := *d.Webhook
				w.URL = redactURLs(w.URL)
				d.Webhook = &w
			}
			cp.Destinations[i] = d
		}
		apps[name] = &cp
	}
	c.Apps = apps
	p := plainConfig(c)
	return &p
}

// structLines prints the fields of struct v, unindented.
func structLines(v reflect.Value) []string {
	var out []string
	for _, f := range fieldsOf(v.Type()) {
		out = append(out, fieldLines(f.name, v.Field(f.index))...)
	}
	return out
}

// fieldLines prints one field.
func fieldLines(name string, v reflect.Value) []string {
	t := v.Type()
	head := name + ":"
	switch {
	case t == secretType:
		return []string{head + " " + secretText(v.Interface().(Secret))}
	case t == secretListType:
		list := v.Interface().([]Secret)
		if len(list) == 0 {
			return []string{head + " []"}
		}
		out := []string{head}
		for _, s := range list {
			out = append(out, "  - "+secretText(s))
		}
		return out
	case t == stringsType:
		items := v.Interface().([]string)
		quoted := make([]string, len(items))
		for i, s := range items {
			quoted[i] = strconv.Quote(s)
		}
		return []string{head + " [" + strings.Join(quoted, ", ") + "]"}
	case t == rulesType:
		return rulesLines(head, v.Interface().(Rules))
	case t == durationType:
		return []string{head + " " + formatDuration(time.Duration(v.Int()))}
	case t == byteSizeType:
		return []string{head + " " + ByteSize(v.Int()).String()}
	case t == modeType:
		return []string{head + " " + v.Interface().(interface{ String() string }).String()}
	}
	switch t.Kind() {
	case reflect.String:
		s := v.String()
		if urlFields[name] {
			s = redactURLs(s)
		}
		return []string{head + " " + strconv.Quote(s)}
	case reflect.Bool:
		return []string{head + " " + strconv.FormatBool(v.Bool())}
	case reflect.Int:
		return []string{head + " " + strconv.FormatInt(v.Int(), 10)}
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return append([]string{head}, indent(structLines(v.Elem()), "  ", "  ")...)
	case reflect.Struct:
		return append([]string{head}, indent(structLines(v), "  ", "  ")...)
	case reflect.Slice:
		if v.Len() == 0 {
			return []string{head + " []"}
		}
		out := []string{head}
		for i := 0; i < v.Len(); i++ {
			out = append(out, indent(structLines(v.Index(i)), "  - ", "    ")...)
		}
		return out
	case reflect.Map:
		apps := v.Interface().(map[string]*App)
		if len(apps) == 0 {
			return []string{head + " {}"}
		}
		out := []string{head}
		for _, n := range (&Config{Apps: apps}).AppNames() {
			out = append(out, "  "+strconv.Quote(n)+":")
			out = append(out, indent(structLines(reflect.ValueOf(apps[n]).Elem()), "    ", "    ")...)
		}
		return out
	}
	return nil
}

// indent prefixes the first line with first and the others with rest.
func indent(lines []string, first, rest string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		if i == 0 {
			out[i] = first + l
		} else {
			out[i] = rest + l
		}
	}
	return out
}

// secretText prints a secret: redacted, with its source as a comment.
func secretText(s Secret) string {
	if !s.IsSet() {
		return `""`
	}
	return strconv.Quote(redacted) + "  # " + s.Source()
}

// formatDuration prints d the way it is written: 720h, 5m, 1m30s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// redactURLs hides the password and credential-like query parameters of
// each comma-separated URL in s.
func redactURLs(s string) string {
	if s == "" {
		return ""
	}
	parts := strings.Split(s, ",")
	for i, p := range parts {
		parts[i] = redactURL(strings.TrimSpace(p))
	}
	return strings.Join(parts, ",")
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		if strings.ContainsAny(s, "@?") {
			return "[unparsable URL, redacted]"
		}
		return s
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			lk := strings.ToLower(k)
			for _, w := range []string{"pass", "secret", "token", "key", "auth", "sig"} {
				if strings.Contains(lk, w) {
					q.Set(k, "xxxxx")
					break
				}
			}
		}
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
