package config

import (
	"errors"
	"io"
	"os"
	"path/filepath"
)

// Option changes how a configuration is loaded.
type Option func(*options)

type options struct {
	environ     []string
	envSet      bool
	flags       *Flags
	skipSecrets bool
	lookup      func(string) (string, bool)
}

// WithEnviron uses environ (KEY=VALUE entries, like os.Environ) instead of
// the process's environment, both for ${NAME} references and for the
// WXGATE_ overrides.
func WithEnviron(environ []string) Option {
	return func(o *options) { o.environ, o.envSet = environ, true }
}

// WithFlags lays the flags of wxgate serve over the file and the
// environment: a flag given wins over both. See Flags.Changed.
func WithFlags(f Flags) Option {
	return func(o *options) { o.flags = &f }
}

// SkipSecrets checks a configuration without its secrets, for a CI check
// of a file whose variables and secret files exist only in production:
// ${NAME} references in secret fields are not looked up and *_file secrets
// are not read. Their form, and where they are written inline, are still
// checked; their values are not. References in other fields are still
// resolved.
func SkipSecrets() Option {
	return func(o *options) { o.skipSecrets = true }
}

func newOptions(opts []Option) *options {
	o := &options{}
	for _, opt := range opts {
		opt(o)
	}
	if !o.envSet {
		o.environ = os.Environ()
	}
	env := make(map[string]string, len(o.environ))
	for _, e := range o.environ {
		for i := 0; i < len(e); i++ {
			if e[i] == '=' {
				env[e[:i]] = e[i+1:]
				break
			}
		}
	}
	o.lookup = func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
	return o
}

// Load reads the YAML file at path, applies the WXGATE_ variables of the
// environment (and the flags of WithFlags), fills in the defaults, reads
// the secret files and validates the result. Its error is an Errors
// holding every problem found, each with its field path and, for what
// the file says, its line.
func Load(path string, opts ...Option) (*Config, error) {
	data, err := readConfigFile(path)
	if err != nil {
		return nil, Errors{&FieldError{File: path, Msg: err.Error(), Err: err}}
	}
	return Parse(path, data, opts...)
}

// readConfigFile reads at most MaxFileSize+1 bytes of the file.
func readConfigFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, MaxFileSize+1))
}

// Parse is Load for a file already read: name is shown in errors, and
// relative *_file paths are resolved against its directory.
func Parse(name string, data []byte, opts ...Option) (*Config, error) {
	dir := ""
	if name != "" {
		dir = filepath.Dir(name)
	}
	return build(name, dir, data, true, newOptions(opts))
}

// FromFlags builds the single-app configuration of wxgate serve run with
// no file: the app "default" at /wechat from the flags, the WXGATE_
// variables applied underneath them, then the same defaults and
// validation as a file. Flags.Changed may be nil here.
func FromFlags(f Flags, opts ...Option) (*Config, error) {
	o := newOptions(opts)
	o.flags = &f
	return build("", "", nil, false, o)
}

// Check loads the file at path like Load and returns every error, for
// wxgate config check; nil means the file is valid.
func Check(path string, opts ...Option) []error {
	_, err := Load(path, opts...)
	if err == nil {
		return nil
	}
	var es Errors
	if errors.As(err, &es) {
		return es.Unwrap()
	}
	return []error{err}
}

// build runs the pipeline: file, environment, flags, defaults, secret
// files, validation.
func build(name, dir string, data []byte, hasFile bool, o *options) (*Config, error) {
	c := &Config{}
	m := newMeta(name, dir)
	col := &collector{m: m}
	if hasFile && !decodeYAML(c, data, o, col) {
		return nil, col.result()
	}
	applyEnv(c, o.environ, o.skipSecrets, col)
	if o.flags != nil {
		applyFlags(c, o.flags, hasFile, col)
	}
	if !hasFile && len(c.Apps) == 0 {
		c.Apps = map[string]*App{DefaultAppName: {Name: DefaultAppName}}
	}
	setDefaults(c)
	resolveFiles(c, col) // under SkipSecrets every file is unresolved: nothing is read
	validate(c, col)
	if len(col.errs) > 0 {
		return nil, col.result()
	}
	c.meta = m
	return c, nil
}
