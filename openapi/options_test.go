package openapi

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestOptionsAreTypedByConstructor checks, option by option, which
// constructors accept it: exactly the assignability the compiler enforces
// on their variadic parameters.
func TestOptionsAreTypedByConstructor(t *testing.T) {
	ctors := map[string]reflect.Type{
		"New":                   reflect.TypeOf(New).In(2).Elem(),
		"NewStableTokenSource":  reflect.TypeOf(NewStableTokenSource).In(2).Elem(),
		"NewClassicTokenSource": reflect.TypeOf(NewClassicTokenSource).In(2).Elem(),
		"NewTokenCache":         reflect.TypeOf(NewTokenCache).In(1).Elem(),
	}
	all := []string{"New", "NewStableTokenSource", "NewClassicTokenSource", "NewTokenCache"}
	source := []string{"New", "NewStableTokenSource", "NewClassicTokenSource"}
	cache := []string{"New", "NewTokenCache"}
	client := []string{"New"}
	for _, tc := range []struct {
		name string
		opt  any
		want []string
	}{
		{"WithBaseURL", WithBaseURL("http://127.0.0.1"), source},
		{"WithHTTPClient", WithHTTPClient(nil), source},
		{"WithTimeout", WithTimeout(time.Second), source},
		{"WithBusyRetry", WithBusyRetry(1, 0, 0), source},
		{"WithMaxResponseSize", WithMaxResponseSize(1), source},
		{"WithClock", WithClock(time.Now), all},
		{"WithRefreshAhead", WithRefreshAhead(time.Minute), cache},
		{"WithSharedStore", WithSharedStore(nil), cache},
		{"WithStorePoll", WithStorePoll(time.Millisecond), cache},
		{"WithFetchTimeout", WithFetchTimeout(time.Second), cache},
		{"WithMaxMediaSize", WithMaxMediaSize(1), client},
		{"WithClassicToken", WithClassicToken(), client},
		{"WithTokenSource", WithTokenSource(nil), client},
		{"WithTokenCache", WithTokenCache(nil), client},
	} {
		for _, ctor := range all {
			got := reflect.TypeOf(tc.opt).Implements(ctors[ctor])
			if want := slices.Contains(tc.want, ctor); got != want {
				t.Errorf("%s accepted by %s: %v, want %v", tc.name, ctor, got, want)
			}
		}
	}
}

// TestMisplacedOptionsDoNotCompile builds testdata/misplaced, where every
// line marked "misplaced" gives an option to a constructor it does not
// concern, and expects a compile error on exactly those lines.
func TestMisplacedOptionsDoNotCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH")
	}
	const src = "testdata/misplaced/main.go"
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	var want []int
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if strings.HasSuffix(sc.Text(), "// misplaced") {
			want = append(want, n)
		}
	}
	f.Close()
	if len(want) == 0 {
		t.Fatal("no misplaced lines in " + src)
	}
	out, err := exec.Command(goTool, "build", "-o", os.DevNull, "./testdata/misplaced").CombinedOutput()
	if err == nil {
		t.Fatal("misplaced options compiled")
	}
	var got []int
	for _, m := range regexp.MustCompile(`main\.go:(\d+):\d+: (.*)`).FindAllStringSubmatch(string(out), -1) {
		n, _ := strconv.Atoi(m[1])
		got = append(got, n)
		if !strings.Contains(m[2], "cannot use") {
			t.Errorf("line %d: unexpected error %q", n, m[2])
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("compile errors on lines %v, want %v:\n%s", got, want, out)
	}
}

// TestNewRefusesOptionsThatCancelEachOther checks that New reports options
// that another option would silently override.
func TestNewRefusesOptionsThatCancelEachOther(t *testing.T) {
	tc := NewTokenCache(fixedSource{})
	for _, tt := range []struct {
		opts []Option
		want string
	}{
		{[]Option{WithTokenCache(tc), WithRefreshAhead(time.Hour)}, "WithRefreshAhead"},
		{[]Option{WithSharedStore(&memStore{}), WithTokenCache(tc)}, "WithSharedStore"},
		{[]Option{WithTokenCache(tc), WithStorePoll(time.Second), WithFetchTimeout(time.Second)}, "WithStorePoll, WithFetchTimeout"},
		{[]Option{WithTokenCache(tc), WithClock(time.Now)}, "WithClock"},
		{[]Option{WithTokenCache(tc), WithTokenSource(fixedSource{})}, "WithTokenSource"},
		{[]Option{WithTokenCache(tc), WithClassicToken()}, "WithClassicToken"},
		{[]Option{WithClassicToken(), WithTokenSource(fixedSource{})}, "exclude each other"},
	} {
		_, err := New("wx", "s", tt.opts...)
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("err = %v, want ErrConfig naming %s", err, tt.want)
		}
	}
	// The options a shared cache leaves to the client are fine.
	c, err := New("wx", "", WithTokenCache(tc), WithBaseURL("http://127.0.0.1:1"), WithTimeout(time.Second),
		WithBusyRetry(1, 0, 0), WithMaxMediaSize(1<<10), WithMaxResponseSize(1<<10), nil)
	if err != nil || c.TokenCache() != tc {
		t.Fatalf("New with a shared cache: %v", err)
	}
	if tok, err := c.Token(context.Background()); err != nil || tok.Value() != "fixed-token-value-0001" {
		t.Fatalf("Token: %v", err)
	}
}
