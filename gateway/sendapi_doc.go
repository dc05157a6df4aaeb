package gateway

import (
	_ "embed"
	"net/http"
)

// openAPIDoc is the OpenAPI 3 document of the /v1/ API and the probes.
//
//go:embed openapi.json
var openAPIDoc []byte

// OpenAPIDocument returns the OpenAPI 3 document of the gateway's HTTP
// API (JSON), as served at GET /v1/openapi.json.
func OpenAPIDocument() []byte { return append([]byte(nil), openAPIDoc...) }

// serveOpenAPIDoc is GET /v1/openapi.json, served without a key: it holds
// no secret, and tools fetch it before they have one.
func (g *Gateway) serveOpenAPIDoc(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "public, max-age=300")
	w.WriteHeader(http.StatusOK)
	w.Write(openAPIDoc)
}
