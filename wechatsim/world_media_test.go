package wechatsim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg" // decode the served JPEGs
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/wxgate/wxgate/message"
)

// fetchMedia gets a stable token for app from srv and downloads mediaID.
// It reports failures as an error rather than through t, since push
// handlers call it from their own goroutine.
func fetchMedia(srv *httptest.Server, app App, mediaID string) (status int, ctype string, body []byte, err error) {
	tb, _ := json.Marshal(map[string]string{"grant_type": "client_credential", "appid": app.AppID, "secret": app.Secret})
	resp, err := srv.Client().Post(srv.URL+PathStableToken, "application/json", bytes.NewReader(tb))
	if err != nil {
		return 0, "", nil, err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || tok.AccessToken == "" {
		return 0, "", nil, fmt.Errorf("no token for %s: %v", app.AppID, err)
	}
	q := url.Values{"access_token": {tok.AccessToken}, "media_id": {mediaID}}
	resp, err = srv.Client().Get(srv.URL + PathMediaGet + "?" + q.Encode())
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), body, err
}

// TestPushedImageIsServedByMediaGet pushes image and card samples through
// the push client with the mock's World: the server under test can
// download the user's image with media/get while it handles the push, and
// afterwards, for 3 days, with the app's tokens.
func TestPushedImageIsServedByMediaGet(t *testing.T) {
	other := App{AppID: "wx00000000000000aa", Secret: "0123456789abcdef0123456789abcdef", OriginalID: "gh_000000000aa"}
	api := NewOpenAPI(WithApp(DefaultApp()), WithApp(other))
	srv := httptest.NewServer(api)
	defer srv.Close()

	type fetched struct {
		status int
		ctype  string
		body   []byte
		err    error
	}
	got := map[string]fetched{} // media id -> what the handler downloaded
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var push struct {
			MediaID      string `json:"MediaId"`
			ThumbMediaID string `json:"ThumbMediaId"`
		}
		if err := json.NewDecoder(r.Body).Decode(&push); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		id := push.MediaID + push.ThumbMediaID
		s, ct, b, err := fetchMedia(srv, DefaultApp(), id)
		got[id] = fetched{s, ct, b, err}
		_, _ = io.WriteString(w, "success")
	})
	client, err := NewClient(ClientConfig{Handler: handler, Token: "token123", AppID: DefaultAppID,
		Format: message.FormatJSON, World: api.World()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var ids []string
	for _, kind := range []string{message.MsgTypeImage, KindCard} {
		p, err := client.Sample(kind, nil)
		if err != nil {
			t.Fatal(err)
		}
		out, err := client.Push(ctx, p)
		if err != nil || !out.Accepted {
			t.Fatalf("%s push: %v %+v", kind, err, out)
		}
		var id string
		switch m := out.Push.(type) {
		case *message.Image:
			id = m.MediaID
		case *message.MiniProgramPage:
			id = m.ThumbMediaID
		}
		ids = append(ids, id)
		f := got[id]
		if f.err != nil {
			t.Fatalf("%s: media/get during the push: %v", kind, f.err)
		}
		if f.status != http.StatusOK || !strings.HasPrefix(f.ctype, "image/") {
			t.Fatalf("%s: media/get during the push: HTTP %d %q %.80s", kind, f.status, f.ctype, f.body)
		}
		if _, format, err := image.DecodeConfig(bytes.NewReader(f.body)); err != nil || "image/"+format != f.ctype {
			t.Fatalf("%s: served bytes are not a %s image: %v", kind, f.ctype, err)
		}
		infos := api.Media()
		if last := infos[len(infos)-1]; last.MediaID != id || last.Source != MediaSourceUser || last.OpenID != out.OpenID ||
			last.AppID != DefaultAppID || last.Size != len(f.body) {
			t.Fatalf("%s: Media() = %+v", kind, last)
		}
	}

	// The image belongs to the app the user wrote to: another app's token
	// gets 40007, as for an unknown media_id.
	status, ctype, body, err := fetchMedia(srv, other, ids[0])
	if err != nil || status != http.StatusOK || !strings.HasPrefix(ctype, "application/json") || !bytes.Contains(body, []byte(`"errcode":40007`)) {
		t.Fatalf("other app: HTTP %d %q %s", status, ctype, body)
	}
	// Three days later it is gone.
	api.FakeClock().Advance(MediaLifetime)
	if _, _, body, _ := fetchMedia(srv, DefaultApp(), ids[0]); !bytes.Contains(body, []byte(`"errcode":40007`)) {
		t.Fatalf("expired media served: %.80s", body)
	}
}

func TestNoteUserImageScope(t *testing.T) {
	w, clk := newTestWorld()
	w.AddApp(DefaultApp())
	w.NoteUserImage(DefaultAppID, "oA", "m-known-app", clk.Now())
	w.NoteUserImage("wxunknown", "oB", "m-unknown-app", clk.Now())
	w.NoteUserImage("", "oC", "m-no-app", clk.Now())
	w.NoteUserImage(DefaultAppID, "oD", "", clk.Now()) // ignored
	for _, tc := range []struct {
		app, id string
		ok      bool
	}{
		{DefaultAppID, "m-known-app", true},
		{"wxother", "m-known-app", false},
		{"wxother", "m-unknown-app", true}, // nobody could fetch it otherwise
		{"wxother", "m-no-app", true},
		{DefaultAppID, "", false},
	} {
		if _, ok := w.lookupMedia(tc.app, tc.id, clk.Now()); ok != tc.ok {
			t.Errorf("lookupMedia(%s, %s) = %v, want %v", tc.app, tc.id, ok, tc.ok)
		}
	}
	// A second note of the same id keeps the first.
	w.NoteUserImage("", "oE", "m-known-app", clk.Now())
	if m, _ := w.lookupMedia(DefaultAppID, "m-known-app", clk.Now()); m.openID != "oA" {
		t.Errorf("re-noted media changed owner to %s", m.openID)
	}
	if n := len(w.mediaInfos()); n != 3 {
		t.Errorf("%d media, want 3", n)
	}
}
