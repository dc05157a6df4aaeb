package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/wxgate/wxgate/wxcrypt"
)

// TestVerifyEncryptedPush: verify takes --appid and --aes-key, and with a
// key it also checks that the server opens a safe-mode push.
func TestVerifyEncryptedPush(t *testing.T) {
	url, _, creds := devServer(t)
	flags := []string{"--url", url, "--token", creds.Token, "--appid", creds.AppID}

	out, errOut, err := runCLI(t, newVerifyCmd(), "", append(flags, "--aes-key", creds.AESKey)...)
	if err != nil || !strings.Contains(out, "encrypted push HTTP 200") || !strings.Contains(out, "PASS") ||
		!strings.Contains(out, "opened a safe-mode push") {
		t.Fatalf("%v\n%s%s", err, out, errOut)
	}
	noSecrets(t, creds, out, errOut)

	// Another key: the URL check passes, the push does not.
	other, _ := wxcrypt.GenerateEncodingAESKey()
	out, errOut, err = runCLI(t, newVerifyCmd(), "", append(flags, "--aes-key", other)...)
	if err == nil || !strings.Contains(out, "  echostr ") || !strings.Contains(out, "encrypted push HTTP 400") ||
		!strings.Contains(out, "FAIL (http_status): the URL check passed") || !strings.Contains(out, "EncodingAESKey or AppID probably differs") {
		t.Fatalf("%v\n%s%s", err, out, errOut)
	}
	if strings.Contains(out+errOut, other) {
		t.Fatal("output shows the key")
	}
	// Another AppID: refused as well.
	out, _, err = runCLI(t, newVerifyCmd(), "", "--url", url, "--token", creds.Token, "--appid", "wx00000000000000aa", "--aes-key", creds.AESKey)
	if err == nil || !strings.Contains(out, "encrypted push HTTP 403") {
		t.Fatalf("%v\n%s", err, out)
	}

	// --url-only: the console's check alone.
	out, _, err = runCLI(t, newVerifyCmd(), "", append(flags, "--aes-key", other, "--url-only")...)
	if err != nil || strings.Contains(out, "encrypted push") || !strings.Contains(out, "PASS") {
		t.Fatalf("%v\n%s", err, out)
	}
	// Without a key there is nothing to seal.
	out, _, err = runCLI(t, newVerifyCmd(), "", flags...)
	if err != nil || strings.Contains(out, "encrypted push") {
		t.Fatalf("%v\n%s", err, out)
	}
}

// TestVerifyDevCredentialsPush: with the development credentials, verify
// checks the encrypted push too, with no flags.
func TestVerifyDevCredentialsPush(t *testing.T) {
	url, stateDir, creds := devServer(t)
	out, errOut, err := runCLI(t, newVerifyCmd(), "", "--url", url, "--state-dir", stateDir)
	if err != nil || !strings.Contains(out, "encrypted push HTTP 200") || !strings.Contains(out, "PASS") {
		t.Fatalf("%v\n%s%s", err, out, errOut)
	}
	noSecrets(t, creds, out, errOut)
}

func TestVerifyKeyErrors(t *testing.T) {
	url, _, creds := devServer(t)
	_, _, err := runCLI(t, newVerifyCmd(), "", "--url", url, "--token", creds.Token, "--aes-key", creds.AESKey)
	if err == nil || !strings.HasPrefix(err.Error(), "--appid / WXGATE_APPID: needed with --aes-key") || !errors.Is(err, errConfig) {
		t.Fatalf("%v", err)
	}
	_, _, err = runCLI(t, newVerifyCmd(), "", "--url", url, "--token", creds.Token, "--appid", creds.AppID, "--aes-key", "tooshort")
	if err == nil || !strings.HasPrefix(err.Error(), "--aes-key / WXGATE_AES_KEY: ") || strings.Contains(err.Error(), "tooshort") {
		t.Fatalf("%v", err)
	}
}
