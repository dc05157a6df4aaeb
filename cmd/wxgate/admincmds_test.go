package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMigrateSQLite(t *testing.T) {
	dir := t.TempDir()
	out, _, err := runCLI(t, newMigrateCmd(), "", "--state-dir", dir)
	if err != nil || !strings.Contains(out, "up to date") {
		t.Fatalf("%v %q", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "wxgate.db")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCLI(t, newMigrateCmd(), "", "--store", "mysql://user:hunter2@x/db"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("bad store: %v", err)
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("apps:\n  shop:\n    appid: wx0123456789abcdef\n    token: ${CHECK_TOKEN}\n"), 0o600)
	t.Setenv("CHECK_TOKEN", "tok12345")
	out, _, err := runCLI(t, newConfigCheckCmd(), "", good)
	if err != nil || !strings.Contains(out, "shop") || strings.Contains(out, "tok12345") {
		t.Fatalf("good file: %v\n%s", err, out)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("apps:\n  shop:\n    appid: nope\n    tokn: x\n"), 0o600)
	out, _, err = runCLI(t, newConfigCheckCmd(), "", bad)
	if err == nil || !strings.Contains(out, "apps.shop.appid") || !strings.Contains(out, "bad.yaml:3:") {
		t.Fatalf("bad file: %v\n%s", err, out)
	}
}
