package main

import (
	"runtime"
	"runtime/debug"
	"strings"
)

func init() {
	rootCmd.Version = versionText(debug.ReadBuildInfo())
	rootCmd.SetVersionTemplate("{{.Version}}")
}

// versionText describes the build for --version: the module version, the
// VCS revision and commit time when the build recorded them, and the Go
// version and platform. A bug report then names the exact code.
func versionText(info *debug.BuildInfo, ok bool) string {
	version, goVersion := "(unknown)", runtime.Version()
	var revision, commitTime, modified string
	if ok && info != nil {
		if info.Main.Version != "" {
			version = info.Main.Version
		}
		if info.GoVersion != "" {
			goVersion = info.GoVersion
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.time":
				commitTime = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
	}
	var b strings.Builder
	b.WriteString("wxgate " + version + "\n")
	if revision != "" {
		b.WriteString("commit      " + revision)
		if modified == "true" {
			b.WriteString(" (with uncommitted changes)")
		}
		b.WriteString("\n")
	}
	if commitTime != "" {
		b.WriteString("commit time " + commitTime + "\n")
	}
	b.WriteString("go          " + goVersion + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n")
	return b.String()
}

// versionString is the module version alone, for the webhook User-Agent.
func versionString() string {
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "dev"
}
