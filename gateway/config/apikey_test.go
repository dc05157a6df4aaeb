package config

import "testing"

func TestAPIKey(t *testing.T) {
	if h := HashAPIKey("crm-key-0123456789abcdef"); h != "sha256:818024929f37cb0943c627099ba90b27699f4d3c45be645fb2a058664be61677" {
		t.Errorf("HashAPIKey = %s", h)
	}
	hashed := APIKey{Name: "a", SecretHash: HashAPIKey(apiKeyValue), Apps: []string{"shop"}, Scopes: []string{ScopeSend}}
	plain := APIKey{Name: "b", Secret: NewSecret(apiKeyValue), Apps: []string{"*"}, Scopes: []string{ScopeRead, ScopeToken}}
	for _, k := range []*APIKey{&hashed, &plain} {
		if !k.Match(apiKeyValue) || k.Match(apiKeyValue+"x") || k.Match("") {
			t.Errorf("%s: Match", k.Name)
		}
	}
	if (&APIKey{SecretHash: "sha256:zz"}).Match("") || (&APIKey{}).Match("") {
		t.Error("a key without a valid secret matches")
	}
	tests := []struct {
		k          *APIKey
		app, scope string
		want       bool
	}{
		{&hashed, "shop", ScopeSend, true},
		{&hashed, "blog", ScopeSend, false}, // a key for app A cannot send for app B
		{&hashed, "shop", ScopeRead, false},
		{&plain, "blog", ScopeRead, true},
		{&plain, "blog", ScopeSend, false}, // a read key cannot send
		{&plain, "shop", ScopeToken, true},
	}
	for _, tt := range tests {
		if got := tt.k.Allows(tt.app, tt.scope); got != tt.want {
			t.Errorf("%s.Allows(%s, %s) = %v", tt.k.Name, tt.app, tt.scope, got)
		}
	}
}
