package wechatsim

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// The API IP whitelist (接口IP白名单): WeChat refuses token fetches from
// addresses that are not in it with 40164, naming the caller's address.

// SetIPWhitelist sets the API IP whitelist: IP addresses ("203.0.113.7",
// "2001:db8::1") or CIDR prefixes ("10.0.0.0/8"). While it is not empty,
// GET /cgi-bin/token and POST /cgi-bin/stable_token with valid credentials
// fail with 40164 for callers outside it, as on the platform. No entries
// clear it. An entry that is neither gives an error and changes nothing.
// To fail other endpoints with 40164, use FailNextOn.
func (o *OpenAPI) SetIPWhitelist(entries ...string) error {
	list, err := parseIPWhitelist(entries)
	if err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.whitelist = list
	return nil
}

func parseIPWhitelist(entries []string) ([]netip.Prefix, error) {
	var list []netip.Prefix
	for _, e := range entries {
		e = strings.TrimSpace(e)
		var p netip.Prefix
		if strings.Contains(e, "/") {
			pp, err := netip.ParsePrefix(e)
			if err != nil {
				return nil, fmt.Errorf("wechatsim: IP whitelist entry %q is not an address or a CIDR prefix", e)
			}
			p = pp.Masked()
		} else {
			a, err := netip.ParseAddr(e)
			if err != nil {
				return nil, fmt.Errorf("wechatsim: IP whitelist entry %q is not an address or a CIDR prefix", e)
			}
			a = a.Unmap()
			p = netip.PrefixFrom(a, a.BitLen())
		}
		list = append(list, p)
	}
	return list, nil
}

// ipAllowed reports whether the whitelist lets r's caller fetch tokens.
func (o *OpenAPI) ipAllowed(r *http.Request) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.whitelist) == 0 {
		return true
	}
	ip := callerIP(r)
	for _, p := range o.whitelist {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// whitelistStrings returns the whitelist as text; o.mu is held.
func (o *OpenAPI) whitelistStringsLocked() []string {
	out := make([]string, 0, len(o.whitelist))
	for _, p := range o.whitelist {
		if p.IsSingleIP() {
			out = append(out, p.Addr().String())
		} else {
			out = append(out, p.String())
		}
	}
	return out
}

// callerIP returns the address of r's peer, IPv4-mapped addresses unmapped,
// or the zero Addr when RemoteAddr is not an address.
func callerIP(r *http.Request) netip.Addr {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().Unmap()
	}
	if a, err := netip.ParseAddr(r.RemoteAddr); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}

// ipNotWhitelistedMsg is the platform's 40164 errmsg for the caller ip:
// "invalid ip 1.2.3.4 ipv6 ::ffff:1.2.3.4, not in whitelist".
func ipNotWhitelistedMsg(ip netip.Addr) string {
	if !ip.IsValid() {
		ip = netip.IPv4Unspecified()
	}
	if ip.Is4() {
		return fmt.Sprintf("invalid ip %s ipv6 ::ffff:%s, not in whitelist", ip, ip)
	}
	return fmt.Sprintf("invalid ip %s ipv6 %s, not in whitelist", ip, ip)
}
