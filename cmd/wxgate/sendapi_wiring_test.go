package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/wxgate/wxgate/wechatsim"
)

// serve wires the Open API: --secret and --openapi-url give the app a
// client, whose token the /v1/ API hands out; with --redis, replicas share
// it and fetch it once.

const wiringAdmin = "wiring-admin-token-0123456789"

func wiringApp() wechatsim.App {
	b := make([]byte, 8)
	rand.Read(b)
	return wechatsim.App{AppID: "wx" + hex.EncodeToString(b), Secret: "0123456789abcdef0123456789abcdef"}
}

func getAccessToken(t *testing.T, p *serveProc, key string) (int, map[string]string) {
	t.Helper()
	req, _ := http.NewRequest("GET", p.base+"/v1/apps/default/access-token", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

func TestServeAccessTokenFromTheMock(t *testing.T) {
	app := wiringApp()
	mock := wechatsim.NewOpenAPI(wechatsim.WithApp(app))
	srv := mock.Start()
	defer srv.Close()
	p := startServe(t, "--appid", app.AppID, "--token", e2eToken, "--mode", "plain", "--secret", app.Secret,
		"--openapi-url", srv.URL, "--admin-token", wiringAdmin)
	code, body := getAccessToken(t, p, wiringAdmin)
	if code != 200 || body["access_token"] == "" || body["expires_at"] == "" {
		t.Fatalf("%d %v", code, body)
	}
	toks := mock.Tokens()
	if len(toks) != 1 || toks[0].Value != body["access_token"] {
		t.Fatal("the token answered is not the mock's")
	}
	if code, _ := getAccessToken(t, p, "not-the-admin-token"); code != 401 {
		t.Fatalf("unknown key: %d", code)
	}
	if logs := p.stderr.String(); strings.Contains(logs, body["access_token"]) || strings.Contains(logs, app.Secret) || strings.Contains(logs, wiringAdmin) {
		t.Fatal("a secret in serve's log")
	}
}

// Two replicas on one Redis: one token fetch between them.
func TestServeReplicasShareTheTokenInRedis(t *testing.T) {
	addr := os.Getenv("WXGATE_TEST_REDIS")
	if addr == "" {
		t.Skip("set WXGATE_TEST_REDIS=host:port (e.g. 127.0.0.1:6379) to run the shared-token test on Redis")
	}
	app := wiringApp() // a fresh AppID: a key of its own in Redis
	mock := wechatsim.NewOpenAPI(wechatsim.WithApp(app))
	srv := mock.Start()
	defer srv.Close()
	var tokens []string
	for range 2 {
		p := startServe(t, "--appid", app.AppID, "--token", e2eToken, "--mode", "plain", "--secret", app.Secret,
			"--openapi-url", srv.URL, "--admin-token", wiringAdmin, "--redis", addr)
		code, body := getAccessToken(t, p, wiringAdmin)
		if code != 200 {
			t.Fatalf("%d %v", code, body)
		}
		tokens = append(tokens, body["access_token"])
	}
	if tokens[0] != tokens[1] || mock.StableTokenFetches() != 1 {
		t.Fatalf("two replicas: same token %v, %d fetches", tokens[0] == tokens[1], mock.StableTokenFetches())
	}
}
