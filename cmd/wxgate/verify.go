package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/wechatsim"
)

func init() { rootCmd.AddCommand(newVerifyCmd()) }

// verifyEvent is the event of verify's encrypted push: a name no server
// handles, so that the check runs no handler's side effects.
const verifyEvent = "wxgate_verify"

// checkEncryptedPush names verify's encrypted push in its output.
const checkEncryptedPush = "encrypted push"

// verifyOptions are the flags of wxgate verify.
type verifyOptions struct {
	targetOptions
	urlOnly bool
}

func newVerifyCmd() *cobra.Command {
	o := &verifyOptions{targetOptions: targetOptions{envPrefix: verifyEnvPrefix}}
	cmd := &cobra.Command{
		Use:   "verify [flags]",
		Short: "Check a push URL the way the WeChat console does when you save the server config",
		Long: `Send the URL verification the WeChat console sends when the server
configuration (消息推送配置) is saved: a GET with signature, timestamp, nonce
and a random echostr (a 19-digit number, like WeChat's). The server must
answer 200 with exactly the echostr as the body: no newline, no quotes, no
JSON, no HTML. wxgate then sends a request with a wrong signature, which the
server must refuse with a status other than 200. The GET is the same in
every mode: WeChat neither encrypts the echostr nor sends msg_signature.

When an EncodingAESKey is known (--aes-key, WXGATE_AES_KEY or the
development credentials) and the URL check passed, wxgate also sends one
safe-mode push, sealed with that key and --appid, of an event named
` + verifyEvent + ` that no handler acts on. The server must open it and answer
200: this catches a key or AppID that differs from the server's before
WeChat's first real push does. --url-only skips it.

wxgate prints each request and either PASS or FAIL with what went wrong and
how to fix it: connection refused, no answer within --timeout (5 s), a status
other than 200 (403 usually means a different Token), echostr with a trailing
newline or white space, in quotes, inside JSON, an HTML page, a wrong body,
200 to the bad signature, or an encrypted push refused. The exit status is 1
on FAIL.

With no --token, the Token, AppID and key come from .wxgate/credentials.json,
which ` + "`wxgate serve`" + ` creates when it runs without --token. They can also be
set with the variables wxgate serve reads: WXGATE_TOKEN, WXGATE_APPID,
WXGATE_AES_KEY and WXGATE_STATE_DIR; the other flags read WXGATE_VERIFY_ and
their name (--url is WXGATE_VERIFY_URL).`,
		Example: `  # Against a local 'wxgate serve' with development credentials:
  wxgate verify

  # Your own server, URL check and an encrypted push:
  WXGATE_TOKEN=... WXGATE_AES_KEY=... wxgate verify --url https://example.com/wechat --appid wx0123456789abcdef

  # Only the console's URL check, with WeChat's patience:
  wxgate verify --url http://127.0.0.1:3000/api/wechat --token mytoken123 --url-only --timeout 5s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			return runVerify(cmd, o)
		},
	}
	f := cmd.Flags()
	o.addFlags(f, true)
	f.BoolVar(&o.urlOnly, "url-only", false, "only the console's URL check: send no encrypted push")
	markSecret(f, "token", "aes-key")
	declareEnv(cmd, verifyEnvPrefix, sharedEnvFlags...)
	return cmd
}

func runVerify(cmd *cobra.Command, o *verifyOptions) error {
	if err := o.resolve(cmd.ErrOrStderr()); err != nil {
		return err
	}
	withPush := !o.urlOnly && o.aesKey != ""
	if withPush {
		// The shared variables are serve's: errors name them.
		if err := checkAESKeys(serveEnvPrefix, []string{o.aesKey}); err != nil {
			return err
		}
		if o.appID == "" {
			return badFlag(serveEnvPrefix, "appid", "needed with --aes-key to seal the encrypted push (or pass --url-only)")
		}
	}
	c, err := wechatsim.NewClient(wechatsim.ClientConfig{URL: o.url, Token: o.token, Timeout: o.timeout})
	if err != nil {
		return err
	}
	defer c.Close()
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	res := c.Verify(ctx)
	var oc *wechatsim.Outcome
	if res.Pass && withPush {
		if oc, err = encryptedPush(ctx, o); err != nil {
			return err
		}
	}
	printVerify(cmd.OutOrStdout(), c.Target(), res, oc)
	if !res.Pass || (oc != nil && !oc.Accepted) {
		return errors.New("verification failed")
	}
	return nil
}

// encryptedPush sends one safe-mode push of verifyEvent, delivered once.
func encryptedPush(ctx context.Context, o *verifyOptions) (*wechatsim.Outcome, error) {
	c, err := wechatsim.NewClient(wechatsim.ClientConfig{
		URL: o.url, AppID: o.appID, Token: o.token, AESKey: o.aesKey,
		Mode: wechatsim.ModeSafe, Format: message.FormatXML, Timeout: o.timeout, Deliveries: 1,
	})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	p, err := c.Sample(verifyEvent, nil)
	if err != nil {
		return nil, err
	}
	return c.Push(ctx, p)
}

// printVerify prints each request of a verification, the encrypted push
// when one was sent, and the verdict.
func printVerify(w io.Writer, target string, res *wechatsim.VerifyResult, oc *wechatsim.Outcome) {
	fmt.Fprintf(w, "verify %s\n", target)
	for _, ch := range res.Checks {
		mark := "ok"
		if !ch.Pass {
			mark = "FAIL"
		}
		switch {
		case ch.Status == 0:
			fmt.Fprintf(w, "  %-14s no answer after %v (%s)  %s\n", ch.Name, wechatsim.RoundLatency(ch.Latency), ch.Verdict, mark)
		case ch.Name == wechatsim.CheckEchostr:
			fmt.Fprintf(w, "  %-14s HTTP %d in %v, sent echostr %s, got %s  %s\n", ch.Name, ch.Status,
				wechatsim.RoundLatency(ch.Latency), ch.Echostr, shortBody(ch.Body, false), mark)
		default:
			fmt.Fprintf(w, "  %-14s HTTP %d in %v, %s  %s\n", ch.Name, ch.Status, wechatsim.RoundLatency(ch.Latency), shortBody(ch.Body, false), mark)
		}
	}
	if !res.Pass {
		fmt.Fprintf(w, "FAIL (%s): %s\n", res.Verdict, res.Reason)
		return
	}
	if oc == nil {
		fmt.Fprintf(w, "PASS: %s\n", res.Reason)
		return
	}
	mark := "ok"
	if !oc.Accepted {
		mark = "FAIL"
	}
	for _, d := range oc.Deliveries {
		if d.Status == 0 {
			fmt.Fprintf(w, "  %-14s no answer after %v (%s)  %s\n", checkEncryptedPush, wechatsim.RoundLatency(d.Latency), d.Verdict, mark)
			continue
		}
		fmt.Fprintf(w, "  %-14s HTTP %d in %v, %s  %s\n", checkEncryptedPush, d.Status, wechatsim.RoundLatency(d.Latency), shortBody(d.Body, false), mark)
	}
	if oc.Accepted {
		fmt.Fprintf(w, "PASS: %s; and the server opened a safe-mode push sealed with this EncodingAESKey and AppID\n", res.Reason)
		return
	}
	fmt.Fprintf(w, "FAIL (%s): the URL check passed, but the server did not accept a safe-mode push sealed with this EncodingAESKey and AppID: %s\n",
		oc.Verdict, oc.Reason)
	if n := len(oc.Deliveries); n > 0 {
		switch oc.Deliveries[n-1].Status {
		case http.StatusBadRequest, http.StatusForbidden:
			fmt.Fprintln(w, "  the server's EncodingAESKey or AppID probably differs: give verify the values the server uses (or --url-only to skip this check)")
		}
	}
}
