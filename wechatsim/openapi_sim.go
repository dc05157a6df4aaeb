package wechatsim

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"time"
)

// Handlers of the /_sim/ endpoints: fault injection, clock control and
// read-back. They are not WeChat endpoints: faults, latency and stats do not
// apply to them.

func simError(status int, msg string) response {
	return response{status: status, code: ErrCodeBadRequest, body: apiError{ErrCode: ErrCodeBadRequest, ErrMsg: msg}}
}

// faultsRequest is the body of POST /_sim/faults. Absent fields leave the
// corresponding setting unchanged.
type faultsRequest struct {
	Clear        bool     `json:"clear"`         // remove all faults first
	Latency      *string  `json:"latency"`       // Go duration, e.g. "200ms"
	BusyRate     *float64 `json:"busy_rate"`     // 0..1
	RevokeTokens bool     `json:"revoke_tokens"` // invalidate all tokens
	ClearQuota   bool     `json:"clear_quota"`   // reset daily quotas
	IPWhitelist  []string `json:"ip_whitelist"`  // replaces the whitelist; [] clears it
	FailNext     *struct {
		N       int    `json:"n"`
		ErrCode int    `json:"errcode"`
		Path    string `json:"path"`
	} `json:"fail_next"`
}

func (o *OpenAPI) handleSimFaults(r *http.Request) response {
	if r.Method == http.MethodGet {
		return okResp(o.Faults())
	}
	var req faultsRequest
	body, bad := readJSONBody(r, &req)
	if bad != nil {
		return simError(http.StatusBadRequest, "body must be a JSON object like {\"latency\":\"200ms\",\"busy_rate\":0.1,\"revoke_tokens\":true,\"fail_next\":{\"n\":1,\"errcode\":-1},\"ip_whitelist\":[\"10.0.0.0/8\"]}")
	}
	var whitelist []netip.Prefix
	setWhitelist := hasKey(body, "ip_whitelist")
	if setWhitelist {
		var err error
		if whitelist, err = parseIPWhitelist(req.IPWhitelist); err != nil {
			return simError(http.StatusBadRequest, "ip_whitelist must list IP addresses or CIDR prefixes, e.g. [\"203.0.113.7\",\"10.0.0.0/8\"]; [] clears it")
		}
	}
	var latency time.Duration
	if req.Latency != nil {
		d, err := time.ParseDuration(*req.Latency)
		if err != nil || d < 0 {
			return simError(http.StatusBadRequest, "latency must be a non-negative Go duration such as \"200ms\"")
		}
		latency = d
	}
	if req.Clear {
		o.ClearFaults()
	}
	if req.Latency != nil {
		o.SetLatency(latency)
	}
	if req.BusyRate != nil {
		o.SetBusyRate(*req.BusyRate)
	}
	if req.RevokeTokens {
		o.RevokeTokens()
	}
	if req.ClearQuota {
		o.ClearQuota()
	}
	if f := req.FailNext; f != nil {
		o.FailNextOn(f.Path, f.N, f.ErrCode)
	}
	if setWhitelist {
		o.mu.Lock()
		o.whitelist = whitelist
		o.mu.Unlock()
	}
	return okResp(o.Faults())
}

// hasKey reports whether the JSON object body has the top-level key, so
// that an explicit null or [] can be told from an absent field.
func hasKey(body []byte, key string) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return false
	}
	_, ok := m[key]
	return ok
}

type clockRequest struct {
	Advance string `json:"advance"` // Go duration, may be negative
	Set     string `json:"set"`     // RFC 3339 time
}

type clockResponse struct {
	Now        time.Time `json:"now"`
	Unix       int64     `json:"unix"`
	Adjustable bool      `json:"adjustable"`
}

func (o *OpenAPI) handleSimClock(r *http.Request) response {
	adj, adjustable := o.clock.(AdjustableClock)
	if r.Method == http.MethodPost {
		if !adjustable {
			return simError(http.StatusConflict, "the clock is the system clock and cannot be moved")
		}
		var req clockRequest
		if _, bad := readJSONBody(r, &req); bad != nil {
			return simError(http.StatusBadRequest, "body must be {\"advance\":\"10m\"} or {\"set\":\"2024-04-25T08:00:00+08:00\"}")
		}
		switch {
		case req.Set != "":
			t, err := time.Parse(time.RFC3339Nano, req.Set)
			if err != nil {
				return simError(http.StatusBadRequest, "set must be an RFC 3339 time")
			}
			adj.Set(t)
		case req.Advance != "":
			d, err := time.ParseDuration(req.Advance)
			if err != nil {
				return simError(http.StatusBadRequest, "advance must be a Go duration such as \"10m\"")
			}
			adj.Advance(d)
		default:
			return simError(http.StatusBadRequest, "give advance or set")
		}
	}
	now := o.clock.Now()
	return okResp(clockResponse{Now: now, Unix: now.Unix(), Adjustable: adjustable})
}

func (o *OpenAPI) handleSimTokens(*http.Request) response {
	return okResp(map[string]any{"tokens": o.Tokens()})
}

func (o *OpenAPI) handleSimStats(*http.Request) response {
	return okResp(map[string]any{
		"endpoints":            o.Stats(),
		"token_fetches":        o.TokenFetches(),
		"stable_token_fetches": o.StableTokenFetches(),
	})
}

func (o *OpenAPI) handleSimMessages(r *http.Request) response {
	return okResp(map[string]any{"messages": o.SentMessages(r.URL.Query().Get("openid"))})
}

type typingState struct {
	OpenID string    `json:"openid"`
	Typing bool      `json:"typing"`
	Until  time.Time `json:"until,omitzero"`
}

func (o *OpenAPI) handleSimTyping(r *http.Request) response {
	if openid := r.URL.Query().Get("openid"); openid != "" {
		until, ok := o.TypingUntil(openid)
		return okResp(typingState{OpenID: openid, Typing: ok, Until: until})
	}
	now := o.clock.Now()
	o.mu.Lock()
	list := []typingState{}
	for id, until := range o.typing {
		if now.Before(until) {
			list = append(list, typingState{OpenID: id, Typing: true, Until: until})
		}
	}
	o.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].OpenID < list[j].OpenID })
	return okResp(map[string]any{"typing": list})
}

type userView struct {
	User
	Window SendWindow `json:"window"`
}

func (o *OpenAPI) handleSimUsers(r *http.Request) response {
	if r.Method == http.MethodPost {
		var req struct {
			OpenID string `json:"openid"`
		}
		body, _, err := readBody(r, MaxJSONBody)
		if err == nil && len(body) > 0 {
			if decodeJSON(body, &req) != nil {
				return simError(http.StatusBadRequest, "body must be empty or {\"openid\":\"...\"}")
			}
		}
		var u *User
		if req.OpenID == "" {
			u = o.world.NewUser()
		} else {
			u = o.world.EnsureUser(req.OpenID)
		}
		return okResp(userView{User: *u, Window: o.world.Window(u.OpenID)})
	}
	users := o.world.Users()
	out := make([]userView, 0, len(users))
	for _, u := range users {
		out = append(out, userView{User: u, Window: o.world.Window(u.OpenID)})
	}
	return okResp(map[string]any{"users": out})
}

// windowRequest is the body of POST /_sim/window.
type windowRequest struct {
	OpenID string `json:"openid"`
	Event  string `json:"event"` // user_message or enter_session
}

func (o *OpenAPI) handleSimWindow(r *http.Request) response {
	if r.Method == http.MethodGet {
		openid := r.URL.Query().Get("openid")
		if _, ok := o.world.User(openid); !ok {
			return simError(http.StatusNotFound, "unknown openid")
		}
		return okResp(o.world.Window(openid))
	}
	var req windowRequest
	if _, bad := readJSONBody(r, &req); bad != nil || req.OpenID == "" {
		return simError(http.StatusBadRequest, "body must be {\"openid\":\"...\",\"event\":\"user_message\"|\"enter_session\"}")
	}
	now := o.world.Clock().Now()
	switch req.Event {
	case WindowUserMessage, "message":
		o.world.NoteUserMessage(req.OpenID, now)
	case WindowEnterSession:
		o.world.NoteEnterSession(req.OpenID, now)
	default:
		return simError(http.StatusBadRequest, "event must be user_message or enter_session")
	}
	return okResp(o.world.Window(req.OpenID))
}

func (o *OpenAPI) handleSimTranscript(r *http.Request) response {
	q := r.URL.Query()
	var since int64
	if s := q.Get("since"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return simError(http.StatusBadRequest, "since must be an integer sequence number")
		}
		since = n
	}
	var entries []Entry
	if q.Has("openid") {
		for _, e := range o.world.Transcript(q.Get("openid")) {
			if e.Seq > since {
				entries = append(entries, e)
			}
		}
	} else {
		entries = o.world.Since(since)
	}
	if entries == nil {
		entries = []Entry{}
	}
	return okResp(map[string]any{"entries": entries})
}

func (o *OpenAPI) handleSimApps(*http.Request) response {
	return okResp(map[string]any{"apps": o.world.Apps()})
}

func (o *OpenAPI) handleSimMedia(*http.Request) response {
	return okResp(map[string]any{"media": o.Media()})
}
