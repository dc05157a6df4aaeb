package main

import (
	"testing"
	"time"

	"github.com/wxgate/wxgate/push"
)

func TestServeReplayWindowFlag(t *testing.T) {
	base := serveOptions{path: "/wechat", token: "AAAAA", mode: "auto"}
	for _, c := range []struct {
		flag time.Duration
		want time.Duration
		bad  bool
	}{
		{0, push.NoReplayCheck, false}, // --replay-window 0 switches the check off
		{5 * time.Minute, 5 * time.Minute, false},
		{-time.Second, 0, true},
	} {
		o := base
		o.replayWindow = c.flag
		cfg, err := o.pushConfig(nil)
		if c.bad {
			if err == nil {
				t.Errorf("--replay-window %v accepted", c.flag)
			}
			continue
		}
		if err != nil || cfg.ReplayWindow != c.want {
			t.Errorf("--replay-window %v: got %v, %v", c.flag, cfg.ReplayWindow, err)
		}
	}
	o := base
	o.path = "wechat"
	if _, err := o.pushConfig(nil); err == nil {
		t.Error("a path without a leading slash was accepted")
	}
	o = base
	o.mode = "secure"
	if _, err := o.pushConfig(nil); err == nil {
		t.Error("mode secure was accepted")
	}
}
