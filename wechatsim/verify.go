package wechatsim

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/wxgate/wxgate/wxcrypt"
)

// Names of the checks of a URL verification.
const (
	// CheckEchostr is the console's own request: a valid signature and a
	// random echostr that must come back byte for byte.
	CheckEchostr = "echostr"
	// CheckBadSignature is a request with a wrong signature, which the
	// server must not answer with 200.
	CheckBadSignature = "bad signature"
)

// VerifyCheck is one request of a URL verification and its judgement.
type VerifyCheck struct {
	// Name is CheckEchostr or CheckBadSignature.
	Name string
	// Echostr is the echostr sent (19 digits, like WeChat's).
	Echostr string
	// Pass reports that the server behaved as it must.
	Pass bool
	// Delivery holds the request's parameters, the answer and the verdict.
	Delivery
}

// VerifyResult is the judged outcome of Client.Verify.
type VerifyResult struct {
	// Pass reports that the server would pass the console's verification
	// and refuses a bad signature.
	Pass bool
	// Verdict is VerdictVerified, or the verdict of the first failed check.
	Verdict Verdict
	// Reason explains Verdict.
	Reason string
	// Checks lists the requests made, the console's first.
	Checks []VerifyCheck
}

// Verify does what the WeChat console does when the server configuration
// is saved: a GET with signature, timestamp, nonce and a random 19-digit
// echostr, which must come back as the whole body with status 200. It then
// sends a request with a wrong signature, which must not get 200. Neither
// request is retried. The result names the first problem found.
func (c *Client) Verify(ctx context.Context) *VerifyResult {
	res := &VerifyResult{Pass: true, Verdict: VerdictVerified}
	first := c.verifyRequest(ctx, false)
	res.Checks = append(res.Checks, first)
	if first.Verdict.retryable() || first.Verdict == VerdictCanceled {
		// Nothing to learn from a second request to a server that does
		// not answer.
		res.Pass, res.Verdict, res.Reason = false, first.Verdict, first.Reason
		return res
	}
	second := c.verifyRequest(ctx, true)
	res.Checks = append(res.Checks, second)
	for _, ch := range res.Checks {
		if !ch.Pass {
			res.Pass, res.Verdict, res.Reason = false, ch.Verdict, ch.Reason
			return res
		}
	}
	res.Reason = "echostr came back byte for byte and a bad signature was refused: the console would accept this URL"
	return res
}

// verifyRequest sends one verification GET, with a corrupted signature when
// badSignature is set, and judges the answer.
func (c *Client) verifyRequest(ctx context.Context, badSignature bool) VerifyCheck {
	ch := VerifyCheck{Name: CheckEchostr, Echostr: randomEchostr()}
	d := &ch.Delivery
	d.Attempt, d.Timestamp, d.Nonce = 1, c.timestamp(), randomNonce()
	d.Signature = wxcrypt.Signature(c.token, d.Timestamp, d.Nonce)
	if badSignature {
		ch.Name = CheckBadSignature
		d.Signature = corruptSignature(d.Signature)
	}
	q := "signature=" + d.Signature + "&echostr=" + ch.Echostr + "&timestamp=" + d.Timestamp + "&nonce=" + d.Nonce
	j := c.exchange(ctx, d, http.MethodGet, q, nil, "")
	if badSignature {
		switch {
		case j.Verdict == VerdictCanceled:
		case j.Verdict != "":
			j = judged(VerdictVerified, "a bad signature was refused (%s)", refusal(d, j))
		case bytes.Contains(d.Body, []byte(ch.Echostr)):
			j = judged(VerdictBadSignatureAccepted, "the server echoed echostr to a request with a wrong signature: it does not check the signature, "+
				"so anyone can make it pass verification. Compare signature with sha1(sort(token, timestamp, nonce)) and answer 403 when they differ")
		default:
			j = judged(VerdictBadSignatureAccepted, "the server answered 200 %s to a request with a wrong signature: answer a status other than 200 "+
				"(403) so that a wrong Token shows as a failure", bodyDesc(d.Body))
		}
	} else if j.Verdict == "" {
		j = judgeEcho(d.Body, ch.Echostr)
	} else if j.Verdict == VerdictStatus && (d.Status == http.StatusForbidden || d.Status == http.StatusUnauthorized) {
		j.Reason += " A refused verification usually means the server's Token differs from the one used here."
	}
	ch.Pass = j.Accepted
	d.Verdict, d.Reason = j.Verdict, j.Reason
	return ch
}

func refusal(d *Delivery, j Judgement) string {
	if d.Status != 0 {
		return fmt.Sprintf("HTTP %d", d.Status)
	}
	return string(j.Verdict)
}

func bodyDesc(b []byte) string {
	if len(b) == 0 {
		return "with an empty body"
	}
	return "with body " + excerpt(b)
}

// corruptSignature changes the last hex digit of sig.
func corruptSignature(sig string) string {
	if sig == "" {
		return "0"
	}
	last := sig[len(sig)-1]
	repl := byte('0')
	if last == '0' {
		repl = '1'
	}
	return sig[:len(sig)-1] + string(repl)
}

// judgeEcho diagnoses a 200 answer to the console's verification request.
func judgeEcho(body []byte, echo string) Judgement {
	s := string(body)
	t := strings.TrimSpace(s)
	switch {
	case s == echo:
		return judged(VerdictVerified, "echostr came back byte for byte")
	case t == echo:
		what := "white space"
		if strings.HasSuffix(s, "\n") && strings.TrimRight(s, "\r\n") == echo {
			what = "a trailing newline"
		}
		return judged(VerdictEchoWhitespace, "echostr came back with %s (%s): write the value alone, with no newline "+
			"(in Go w.Write([]byte(echostr)) or io.WriteString, not fmt.Fprintln; in Python return the string, not print)", what, excerpt(body))
	case t == `"`+echo+`"` || t == `'`+echo+`'`:
		return judged(VerdictEchoQuoted, "echostr came back in quotes (%s): it was serialized as a JSON string; write the raw value as plain text", excerpt(body))
	case strings.HasPrefix(t, "{") || strings.HasPrefix(t, "["):
		return judged(VerdictEchoJSON, "echostr came back as JSON (%s): the body must be the raw echostr, not a JSON document", excerpt(body))
	case isHTML([]byte(t)):
		return judged(VerdictEchoHTML, "the server answered an HTML page (%s): the GET reached an error page or a web page, not the push handler; check the URL path", excerpt(body))
	case s == "":
		return judged(VerdictEchoWrong, "the body is empty: echo the echostr query parameter as the whole body")
	case strings.Contains(s, echo):
		return judged(VerdictEchoWrong, "echostr came back inside other text (%s): the body must be echostr alone", excerpt(body))
	}
	return judged(VerdictEchoWrong, "the body %s is not the echostr %s: echo the echostr query parameter as the whole body", excerpt(body), echo)
}
