package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/wxgate/wxgate/wechatsim"
)

func init() { rootCmd.AddCommand(newVerifyCmd()) }

func newVerifyCmd() *cobra.Command {
	o := &targetOptions{}
	cmd := &cobra.Command{
		Use:   "verify [flags]",
		Short: "Check a push URL the way the WeChat console does when you save the server config",
		Long: `Send the URL verification the WeChat console sends when the server
configuration (消息推送配置) is saved: a GET with signature, timestamp, nonce
and a random echostr (a 19-digit number, like WeChat's). The server must
answer 200 with exactly the echostr as the body: no newline, no quotes, no
JSON, no HTML. wxgate then sends a request with a wrong signature, which the
server must refuse with a status other than 200.

wxgate prints each request and either PASS or FAIL with what went wrong and
how to fix it: connection refused, no answer within --timeout (5 s), a status
other than 200 (403 usually means a different Token), echostr with a trailing
newline or white space, in quotes, inside JSON, an HTML page, a wrong body, or
200 to the bad signature. The exit status is 1 on FAIL.

With no --token, the Token comes from .wxgate/credentials.json, which
` + "`wxgate serve`" + ` creates when it runs without --token. --token can also be set with
WXGATE_TOKEN.`,
		Example: `  # Against a local 'wxgate serve' with development credentials:
  wxgate verify

  # Your own server:
  WXGATE_TOKEN=... wxgate verify --url https://example.com/wechat

  # A slow server, with WeChat's patience:
  wxgate verify --url http://127.0.0.1:3000/api/wechat --token mytoken123 --timeout 5s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			if err := o.resolve(cmd.ErrOrStderr()); err != nil {
				return err
			}
			c, err := wechatsim.NewClient(wechatsim.ClientConfig{URL: o.url, Token: o.token, Timeout: o.timeout})
			if err != nil {
				return err
			}
			defer c.Close()
			res := c.Verify(cmd.Context())
			printVerify(cmd.OutOrStdout(), c.Target(), res)
			if !res.Pass {
				return errors.New("verification failed")
			}
			return nil
		},
	}
	o.addFlags(cmd.Flags(), false)
	return cmd
}

// printVerify prints each request of a verification and the verdict.
func printVerify(w io.Writer, target string, res *wechatsim.VerifyResult) {
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
	if res.Pass {
		fmt.Fprintf(w, "PASS: %s\n", res.Reason)
		return
	}
	fmt.Fprintf(w, "FAIL (%s): %s\n", res.Verdict, res.Reason)
}
