package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
)

// maxSecretFile bounds a secret file.
const maxSecretFile = 64 << 10

// walkSecrets calls fn for every Secret and []Secret field under v, with
// its path, in a stable order (apps by name).
func walkSecrets(v reflect.Value, path string, fn func(path string, v reflect.Value)) {
	switch {
	case v.Type() == secretType || v.Type() == secretListType:
		fn(path, v)
	case v.Kind() == reflect.Pointer:
		if !v.IsNil() {
			walkSecrets(v.Elem(), path, fn)
		}
	case v.Kind() == reflect.Struct && v.Type() != rulesType:
		for _, f := range fieldsOf(v.Type()) {
			walkSecrets(v.Field(f.index), joinPath(path, f.name), fn)
		}
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Struct:
		for i := 0; i < v.Len(); i++ {
			walkSecrets(v.Index(i), indexPath(path, i), fn)
		}
	case v.Kind() == reflect.Map:
		c := v.Interface().(map[string]*App)
		for _, name := range (&Config{Apps: c}).AppNames() {
			walkSecrets(reflect.ValueOf(c[name]), keyPath(path, name), fn)
		}
	}
}

// resolveFiles reads every *_file secret.
func resolveFiles(c *Config, col *collector) {
	walkSecrets(reflect.ValueOf(c).Elem(), "", func(path string, v reflect.Value) {
		if v.Type() == secretType {
			s := v.Interface().(Secret)
			if s.kind != srcFile || s.unresolved {
				return
			}
			text, err := readSecretFile(s.ref, s.dir)
			if err != nil {
				col.field(path, ErrSecretFile, "%v", err)
				s.unresolved = true // one error: not "must be set" as well
				v.Set(reflect.ValueOf(s))
				return
			}
			s.value = &text
			v.Set(reflect.ValueOf(s))
			return
		}
		ref, ok := col.m.listFiles[path]
		if !ok || ref.unresolved {
			if ok {
				v.Set(reflect.ValueOf([]Secret{ref}))
			}
			return
		}
		text, err := readSecretFile(ref.ref, ref.dir)
		if err != nil {
			col.field(path, ErrSecretFile, "%v", err)
			ref.unresolved = true
			v.Set(reflect.ValueOf([]Secret{ref}))
			return
		}
		var list []Secret
		for _, line := range strings.Split(text, "\n") {
			if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			s := ref
			s.value = &line
			list = append(list, s)
		}
		if len(list) == 0 {
			col.field(path, ErrSecretFile, "%s holds no key, only comments", ref.ref)
			ref.unresolved = true
			list = []Secret{ref}
		}
		v.Set(reflect.ValueOf(list))
	})
}

// readSecretFile reads a secret file, relative to dir unless absolute,
// trimmed of surrounding space. Errors name the file, never its content.
func readSecretFile(name, dir string) (string, error) {
	p := name
	if !filepath.IsAbs(p) && dir != "" {
		p = filepath.Join(dir, p)
	}
	f, err := os.Open(p)
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %v", p, describeFSError(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %v", p, describeFSError(err))
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", p)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %v", p, describeFSError(err))
	}
	if len(b) > maxSecretFile {
		return "", fmt.Errorf("%s is larger than %d bytes", p, maxSecretFile)
	}
	text := strings.TrimSpace(string(b))
	if text == "" {
		return "", fmt.Errorf("%s is empty", p)
	}
	return text, nil
}

// describeFSError is the reason of a file error without the path, which
// the caller shows once.
func describeFSError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
