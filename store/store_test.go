package store_test

import (
	"strings"
	"testing"

	"github.com/wxgate/wxgate/store"
)

// TestMessageIDIsFixed pins the id derivation: ids are in webhooks already
// delivered, so a change would make a retry look like a new message.
func TestMessageIDIsFixed(t *testing.T) {
	for _, tc := range []struct{ app, key, want string }{
		{"default", "msg:23456789012345678", "msg_q3a5mvwyw2rawx7xycicd4642a"},
		{"default", "evt:oUser:1764403200:user_enter_tempsession", "msg_2p57uqdkn6pufd6iyniafwrq2q"},
		{"shop", "msg:23456789012345678", "msg_oyvvr5otucvyobkkbzyyqaxgry"},
	} {
		got := store.MessageID(tc.app, tc.key)
		if got != tc.want {
			t.Errorf("MessageID(%q, %q) = %q, want %q", tc.app, tc.key, got, tc.want)
		}
		if !store.ValidID(got) || len(got) != store.IDLen {
			t.Errorf("MessageID(%q, %q) = %q is not a valid id", tc.app, tc.key, got)
		}
	}
}

func TestValidID(t *testing.T) {
	good := store.MessageID("a", "b")
	for _, id := range []string{"", "msg_", good[:len(good)-1], good + "a", strings.ToUpper(good), "MSG_" + good[4:], good[:10] + "1" + good[11:], good[:10] + "8" + good[11:]} {
		if store.ValidID(id) {
			t.Errorf("ValidID(%q) = true", id)
		}
	}
}

func TestStatusString(t *testing.T) {
	for s, want := range map[store.Status]string{store.Stored: "stored", store.Duplicate: "duplicate", store.Replay: "replay", 0: "invalid", 9: "invalid"} {
		if got := s.String(); got != want {
			t.Errorf("Status(%d).String() = %q, want %q", s, got, want)
		}
	}
}
