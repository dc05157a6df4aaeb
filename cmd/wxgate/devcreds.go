package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/wxgate/wxgate/wxcrypt"
)

// devCredentials are the AppID, Token and EncodingAESKey that wxgate makes
// for local use when none are configured, so that `wxgate serve` and the
// emulator's `wxgate push` work together with no setup. They are kept in a
// file readable by the owner only, and never printed.
type devCredentials struct {
	AppID  string `json:"appid"`
	Token  string `json:"token"`
	AESKey string `json:"aes_key"`
}

// defaultStateDir is where wxgate keeps local state, relative to the
// working directory.
const defaultStateDir = ".wxgate"

func credentialsPath(stateDir string) string {
	return filepath.Join(stateDir, "credentials.json")
}

// loadOrCreateDevCredentials reads the development credentials in
// stateDir, creating them on first use. created reports a new file.
func loadOrCreateDevCredentials(stateDir string) (c devCredentials, created bool, err error) {
	path := credentialsPath(stateDir)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &c); err != nil {
			return c, false, fmt.Errorf("%s is not valid JSON; delete it to make new credentials", path)
		}
		if c.AppID == "" || !wxcrypt.ValidToken(c.Token) {
			return c, false, fmt.Errorf("%s lacks a valid appid or token; delete it to make new credentials", path)
		}
		if _, err := wxcrypt.ParseKey(c.AESKey); err != nil {
			return c, false, fmt.Errorf("%s has an invalid aes_key; delete it to make new credentials", path)
		}
		return c, false, nil
	case !errors.Is(err, fs.ErrNotExist):
		return c, false, err
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return c, false, err
	}
	c.AppID = "wx" + hex.EncodeToString(id[:])
	if c.Token, err = wxcrypt.GenerateToken(); err != nil {
		return c, false, err
	}
	if c.AESKey, err = wxcrypt.GenerateEncodingAESKey(); err != nil {
		return c, false, err
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return c, false, err
	}
	data, _ = json.MarshalIndent(c, "", "  ")
	if err := os.WriteFile(path, append(data, '\n'), 0o600); err != nil {
		return c, false, err
	}
	return c, true, nil
}
