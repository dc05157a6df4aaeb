package config

import (
	"strings"

	"github.com/wxgate/wxgate/push"
)

// setDefaults fills every field left empty (or zero) with its default.
func setDefaults(c *Config) {
	def := func(s *string, v string) {
		if strings.TrimSpace(*s) == "" {
			*s = v
		}
	}
	def(&c.Listen, DefaultListen)
	def(&c.StateDir, DefaultStateDir)
	def(&c.Store, defaultStore(c.StateDir))
	def(&c.NATS.Stream, DefaultNATSStream)
	def(&c.Log.Format, DefaultLogFormat)
	def(&c.Log.Level, DefaultLogLevel)
	def(&c.OpenAPIURL, DefaultOpenAPIURL)
	c.Log.Format = strings.ToLower(strings.TrimSpace(c.Log.Format))
	c.Log.Level = strings.ToLower(strings.TrimSpace(c.Log.Level))
	if r := strings.TrimSpace(c.Redis); r != "" && !strings.Contains(r, "://") {
		c.Redis = "redis://" + r // host:port
	}
	if c.Retain == 0 {
		c.Retain = DefaultRetain
	}
	d := &c.Delivery
	if d.InitialBackoff == 0 {
		d.InitialBackoff = DefaultInitialBackoff
	}
	if d.MaxBackoff == 0 {
		d.MaxBackoff = max(DefaultMaxBackoff, d.InitialBackoff)
	}
	if d.MaxAttempts == 0 {
		d.MaxAttempts = DefaultMaxAttempts
	}
	if d.Timeout == 0 {
		d.Timeout = DefaultTimeout
	}
	if d.Concurrency == 0 {
		d.Concurrency = DefaultConcurrency
	}
	for name, a := range c.Apps {
		if a == nil {
			a = &App{}
			c.Apps[name] = a
		}
		a.Name = name
		def(&a.Path, defaultPath(name))
		if a.ReplayWindow == 0 {
			a.ReplayWindow = push.DefaultReplayWindow
		}
		if a.MaxBody == 0 {
			a.MaxBody = push.DefaultMaxBody
		}
		for i := range a.Destinations {
			dst := &a.Destinations[i]
			if w := dst.Webhook; w != nil {
				if w.Timeout == 0 {
					w.Timeout = d.Timeout
				}
				if w.Concurrency == 0 {
					w.Concurrency = d.Concurrency
				}
			}
			if n := dst.NATS; n != nil {
				def(&n.SubjectPrefix, "wxgate."+name)
			}
		}
	}
}
