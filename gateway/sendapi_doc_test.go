package gateway

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The OpenAPI document parses, lists exactly the routes the mux serves
// (with the scope each one needs), and every route it lists is served.
func TestOpenAPIDocumentMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(OpenAPIDocument(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi %q, want 3.x", doc.OpenAPI)
	}
	documented := map[string]string{} // "GET /path" -> scope
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			var op struct {
				Scope     string                     `json:"x-wxgate-scope"`
				Responses map[string]json.RawMessage `json:"responses"`
			}
			if err := json.Unmarshal(raw, &op); err != nil || len(op.Responses) == 0 {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			documented[strings.ToUpper(method)+" "+path] = op.Scope
		}
	}
	served := map[string]string{openAPIDocPattern: "", "GET /healthz": "", "GET /readyz": "", "GET /metrics": ""}
	for _, rt := range apiRouteTable {
		served[rt.pattern] = rt.scope
	}
	if !maps.Equal(documented, served) {
		keys := func(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
		t.Fatalf("documented routes and scopes:\n%v\n%v\nserved:\n%v\n%v", keys(documented), documented, keys(served), served)
	}

	f := newFixture(t, nil)
	param := regexp.MustCompile(`\{[a-z_]+\}`)
	for route := range documented {
		method, path, _ := strings.Cut(route, " ")
		path = param.ReplaceAllStringFunc(path, func(p string) string {
			if p == "{app}" {
				return "default"
			}
			return "x"
		})
		r := httptest.NewRequest(method, path, strings.NewReader("{}"))
		r.Header.Set("Authorization", "Bearer "+tAdmin)
		rec := httptest.NewRecorder()
		f.handler.ServeHTTP(rec, r)
		if rec.Code == http.StatusMethodNotAllowed || strings.Contains(rec.Body.String(), "no such endpoint") {
			t.Errorf("%s is documented but not served: %d %q", route, rec.Code, rec.Body)
		}
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/openapi.json", nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json; charset=utf-8" || !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("GET /v1/openapi.json without a key: %d %v", rec.Code, rec.Header())
	}
}
