package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// docPath is the configuration's documentation.
const docPath = "../../docs/configuration.md"

// TestDocExample loads the full example of docs/configuration.md.
func TestDocExample(t *testing.T) {
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	blocks := yamlBlocks(string(doc))
	if len(blocks) < 3 {
		t.Fatalf("found %d YAML blocks", len(blocks))
	}
	env := []string{"PGPASSWORD=pw", "SHOP_TOKEN=ShopToken1", "BLOG_TOKEN=BlogToken1", "ADMIN_TOKEN=" + adminToken,
		"SHOP_AES_KEY=" + key1, "SHOP_AES_KEY_PREVIOUS=" + key2, "BLOG_AES_KEY=" + key2,
		"SHOP_APPSECRET=" + appSecret, "SHOP_WEBHOOK_SECRET=" + webhookSec}
	full, err := Parse("doc.yaml", []byte(blocks[0]), WithEnviron(env), SkipSecrets())
	if err != nil {
		t.Fatalf("the full example:\n%v", err)
	}
	if got := full.AppNames(); !reflect.DeepEqual(got, []string{"blog", "shop"}) || full.Apps["shop"].Path != "/wechat/shop" {
		t.Errorf("full example: %v", got)
	}
	for i, b := range blocks[1:] {
		if strings.Contains(b, "token_file: /run/secrets/shop_token") {
			continue // the three forms of a secret, not a file
		}
		if _, err := Parse("doc.yaml", []byte(b), WithEnviron(env)); err != nil {
			t.Errorf("example %d:\n%s\n%v", i+2, b, err)
		}
	}
}

// TestDocListsEveryField checks that the documentation names every field.
func TestDocListsEveryField(t *testing.T) {
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type, prefix string)
	var missing []string
	walk = func(typ reflect.Type, prefix string) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || isLeaf(typ) || typ == rulesType || seen[typ] {
			return
		}
		seen[typ] = true
		for _, f := range fieldsOf(typ) {
			name := f.name
			if prefix != "" {
				name = prefix + "." + f.name
			}
			if !strings.Contains(string(doc), "`"+name+"`") && !strings.Contains(string(doc), "`"+f.name+"`") &&
				!strings.Contains(string(doc), "`"+name+".") {
				missing = append(missing, name)
			}
			sub := ""
			if typ == reflect.TypeFor[Destination]() || typ == reflect.TypeFor[Config]() && (f.name == "nats" || f.name == "admin" || f.name == "log" || f.name == "delivery") {
				sub = f.name
			}
			walk(f.typ, sub)
		}
	}
	walk(reflect.TypeFor[Config](), "")
	if len(missing) > 0 {
		t.Errorf("docs/configuration.md does not name: %v", missing)
	}
}

// yamlBlocks returns the ```yaml blocks of a Markdown text.
func yamlBlocks(md string) []string {
	var out []string
	for {
		i := strings.Index(md, "```yaml\n")
		if i < 0 {
			return out
		}
		md = md[i+len("```yaml\n"):]
		j := strings.Index(md, "```")
		if j < 0 {
			return out
		}
		out = append(out, md[:j])
		md = md[j:]
	}
}
