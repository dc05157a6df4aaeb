package config

import (
	"cmp"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// EnvPrefix starts every variable that overrides the configuration.
const EnvPrefix = "WXGATE_"

// strictEnvPrefixes are the sections of which every variable must name a
// setting: a typo there is an error. Other WXGATE_ variables that name no
// setting are left alone, since the commands' flags (WXGATE_ADDR,
// WXGATE_PUSH_...) and the tests (WXGATE_TEST_...) use them.
var strictEnvPrefixes = []string{"APPS_", "API_KEYS_"}

// maxEnvIndex bounds list indexes in variable names, so that a variable
// cannot make a huge list.
const maxEnvIndex = 99

// EnvName returns the variable that overrides the field at path, e.g.
// "apps.my-shop.destinations[0].webhook.url" gives
// WXGATE_APPS_MY_SHOP_DESTINATIONS_0_WEBHOOK_URL: the path in capitals,
// with dots, dashes and brackets as underscores.
func EnvName(path string) string {
	r := strings.NewReplacer(".", "_", "-", "_", "[", "_", "]", "")
	return EnvPrefix + strings.ToUpper(r.Replace(path))
}

// envSeg is a name as it appears in a variable.
func envSeg(name string) string { return strings.ToUpper(strings.ReplaceAll(name, "-", "_")) }

// envStep is one step from the Config to a setting.
type envStep struct {
	field int    // a struct field's index, or -1
	index int    // a list index, or -1
	key   string // an app's name (the map step) when field and index are -1
	path  string // the path reached by the step
}

// envTarget is the setting a variable names.
type envTarget struct {
	steps []envStep
	leaf  reflect.Type
	file  bool // the _FILE variant of a secret
	path  string
}

// appSeg is an app's name and its form in variables.
type appSeg struct{ name, seg string }

// findEnv finds the setting that rest (a variable's name after the
// prefix) names in type t.
func findEnv(t reflect.Type, rest, path string, apps []appSeg) (envTarget, bool) {
	switch {
	case t.Kind() == reflect.Pointer:
		return findEnv(t.Elem(), rest, path, apps)
	case t.Kind() == reflect.Struct:
		for _, f := range fieldsOf(t) {
			if f.typ == rulesType {
				continue
			}
			seg, fp := envSeg(f.name), joinPath(path, f.name)
			step := envStep{field: f.index, index: -1, path: fp}
			if isLeaf(f.typ) {
				if rest == seg {
					return envTarget{steps: []envStep{step}, leaf: f.typ, path: fp}, true
				}
				if f.secret() && rest == seg+"_FILE" {
					return envTarget{steps: []envStep{step}, leaf: f.typ, path: fp, file: true}, true
				}
				continue
			}
			if sub, ok := strings.CutPrefix(rest, seg+"_"); ok {
				if tg, ok := findEnv(f.typ, sub, fp, apps); ok {
					tg.steps = append([]envStep{step}, tg.steps...)
					return tg, true
				}
			}
		}
	case t.Kind() == reflect.Slice:
		digits, sub, ok := strings.Cut(rest, "_")
		if !ok {
			return envTarget{}, false
		}
		i, err := strconv.Atoi(digits)
		if err != nil || i < 0 || i > maxEnvIndex || strconv.Itoa(i) != digits {
			return envTarget{}, false
		}
		tg, ok := findEnv(t.Elem(), sub, indexPath(path, i), apps)
		if ok {
			tg.steps = append([]envStep{{field: -1, index: i, path: indexPath(path, i)}}, tg.steps...)
		}
		return tg, ok
	case t.Kind() == reflect.Map:
		try := func(name, sub string) (envTarget, bool) {
			tg, ok := findEnv(t.Elem(), sub, keyPath(path, name), apps)
			if ok {
				tg.steps = append([]envStep{{field: -1, index: -1, key: name, path: keyPath(path, name)}}, tg.steps...)
			}
			return tg, ok
		}
		for _, a := range apps { // longest first
			if sub, ok := strings.CutPrefix(rest, a.seg+"_"); ok {
				if tg, ok := try(a.name, sub); ok {
					return tg, true
				}
			}
		}
		// An app that does not exist yet: the shortest name that leaves
		// a setting.
		for i := 1; i < len(rest); i++ {
			if rest[i] == '_' {
				if tg, ok := try(strings.ToLower(rest[:i]), rest[i+1:]); ok {
					return tg, true
				}
			}
		}
	}
	return envTarget{}, false
}

// walkTo follows tg's steps from root, making the structs, list items
// and apps on the way; made is called with the path of each list item
// and app it makes.
func walkTo(root reflect.Value, tg envTarget, made func(path string)) reflect.Value {
	v := root
	for _, s := range tg.steps {
		for v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		switch {
		case s.field >= 0:
			v = v.Field(s.field)
		case s.index >= 0:
			if v.Len() <= s.index {
				for i := v.Len(); i <= s.index; i++ {
					made(indexPath(strings.TrimSuffix(s.path, "["+strconv.Itoa(s.index)+"]"), i))
				}
				grown := reflect.MakeSlice(v.Type(), s.index+1, s.index+1)
				reflect.Copy(grown, v)
				v.Set(grown)
			}
			v = v.Index(s.index)
		default:
			if v.IsNil() {
				v.Set(reflect.MakeMap(v.Type()))
			}
			app := v.MapIndex(reflect.ValueOf(s.key))
			if !app.IsValid() {
				made(s.path)
				app = reflect.ValueOf(&App{Name: s.key})
				v.SetMapIndex(reflect.ValueOf(s.key), app)
			}
			v = app.Elem()
		}
	}
	return v
}

// applyEnv applies the WXGATE_ variables of environ (KEY=VALUE, as
// os.Environ) to c, in the order of their names.
func applyEnv(c *Config, environ []string, skipSecrets bool, col *collector) {
	type kv struct{ k, v string }
	var vars []kv
	for _, e := range environ {
		k, v, ok := strings.Cut(e, "=")
		if ok && strings.HasPrefix(k, EnvPrefix) {
			vars = append(vars, kv{k, v})
		}
	}
	slices.SortFunc(vars, func(a, b kv) int { return cmp.Compare(a.k, b.k) })
	root := reflect.ValueOf(c).Elem()
	setBy := map[string]string{}
	for _, e := range vars {
		rest := e.k[len(EnvPrefix):]
		tg, ok := findEnv(root.Type(), rest, "", appSegs(c))
		if !ok {
			for _, p := range strictEnvPrefixes {
				if strings.HasPrefix(rest, p) {
					col.push(&FieldError{Source: e.k, Err: ErrUnknownField,
						Msg: "names no setting (see docs/configuration.md for the names)"})
					break
				}
			}
			continue
		}
		if prev, dup := setBy[tg.path]; dup {
			col.push(&FieldError{Path: tg.path, Source: e.k, Err: ErrInvalid,
				Msg: "conflicts with " + prev + ": set the secret one way"})
			continue
		}
		setBy[tg.path] = e.k
		col.m.origin[tg.path] = e.k
		made := func(path string) {
			if _, ok := col.m.origin[path]; !ok {
				col.m.origin[path] = e.k
			}
		}
		setValue(walkTo(root, tg, made), tg, e.k, e.v, srcEnv, skipSecrets, col)
	}
}

// setValue sets the leaf v from a variable's or flag's value. source
// names the variable or flag; kind is srcEnv or srcFlag.
func setValue(v reflect.Value, tg envTarget, source, value string, kind sourceKind, skipSecrets bool, col *collector) {
	switch tg.leaf {
	case secretType:
		v.Set(reflect.ValueOf(newSourcedSecret(value, tg.file, source, kind, skipSecrets)))
	case secretListType:
		delete(col.m.listFiles, tg.path)
		if tg.file {
			if value != "" {
				col.m.listFiles[tg.path] = newSourcedSecret(value, true, source, kind, skipSecrets)
			}
			v.Set(reflect.Zero(v.Type()))
			return
		}
		var list []Secret
		for _, item := range splitList(value) {
			list = append(list, newSourcedSecret(item, false, source, kind, skipSecrets))
		}
		v.Set(reflect.ValueOf(list))
	case stringsType:
		v.Set(reflect.ValueOf(splitList(value)))
	default:
		if err := setLeaf(v, value); err != nil {
			col.field(tg.path, ErrInvalid, "%v", err)
		}
	}
}

// newSourcedSecret is a secret, or a secret file's path, given by a
// variable or flag.
func newSourcedSecret(value string, file bool, source string, kind sourceKind, skipSecrets bool) Secret {
	switch {
	case value == "":
		return Secret{}
	case file:
		return Secret{kind: srcFile, ref: value, unresolved: skipSecrets}
	}
	return Secret{value: &value, kind: kind, ref: source}
}

// appSegs lists c's apps by their form in variables, longest first.
func appSegs(c *Config) []appSeg {
	out := make([]appSeg, 0, len(c.Apps))
	for name := range c.Apps {
		out = append(out, appSeg{name, envSeg(name)})
	}
	slices.SortFunc(out, func(a, b appSeg) int {
		if n := cmp.Compare(len(b.seg), len(a.seg)); n != 0 {
			return n
		}
		return cmp.Compare(a.name, b.name)
	})
	return out
}
