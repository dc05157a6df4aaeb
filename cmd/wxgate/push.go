package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/wechatsim"
	"github.com/wxgate/wxgate/wxcrypt"
)

func init() { rootCmd.AddCommand(newPushCmd()) }

// defaultPushURL is where `wxgate serve` listens with its default flags.
const defaultPushURL = "http://127.0.0.1:8080/wechat"

// targetOptions are the flags shared by wxgate push and wxgate verify: the
// server and the credentials it was configured with.
type targetOptions struct {
	url, token, appID, aesKey, stateDir string
	timeout                             time.Duration
	envPrefix                           string // the command's own variables (pushEnvPrefix, verifyEnvPrefix)
}

func (o *targetOptions) addFlags(f *pflag.FlagSet, withKeys bool) {
	f.StringVar(&o.url, "url", defaultPushURL, "the server's push URL")
	f.StringVar(&o.token, "token", "", "the Token the server uses (default: .wxgate/credentials.json made by wxgate serve)")
	if withKeys {
		f.StringVar(&o.appID, "appid", "", "the mini program's AppID (encrypted pushes carry it)")
		f.StringVar(&o.aesKey, "aes-key", "", "the EncodingAESKey, needed for compat and safe mode")
	}
	f.DurationVar(&o.timeout, "timeout", wechatsim.DefaultPushTimeout, "how long to wait for each answer, as WeChat does")
	f.StringVar(&o.stateDir, "state-dir", defaultStateDir, "where wxgate serve keeps development credentials")
}

// resolve fills the credentials from the development credentials file when
// no --token is given, as `wxgate serve` does, and reports where they came
// from on w. It never prints a secret.
func (o *targetOptions) resolve(w io.Writer) error {
	if i := strings.IndexByte(o.aesKey, ','); i >= 0 {
		// WXGATE_AES_KEY may list the current key and previous ones.
		o.aesKey = o.aesKey[:i]
	}
	o.aesKey = strings.TrimSpace(o.aesKey)
	if o.timeout <= 0 {
		return badFlag(o.envPrefix, "timeout", "must be positive")
	}
	if o.token != "" {
		return nil
	}
	creds, err := readDevCredentials(o.stateDir)
	if err != nil {
		return err
	}
	o.token = creds.Token
	if o.appID == "" {
		o.appID = creds.AppID
	}
	if o.aesKey == "" {
		o.aesKey = creds.AESKey
	}
	fmt.Fprintf(w, "using the development credentials in %s (appid %s)\n", credentialsPath(o.stateDir), creds.AppID)
	return nil
}

// readDevCredentials reads the credentials `wxgate serve` makes when it has
// no --token. Unlike loadOrCreateDevCredentials it never creates them:
// a sender has nothing to gain from credentials no server knows.
func readDevCredentials(stateDir string) (devCredentials, error) {
	var c devCredentials
	path := credentialsPath(stateDir)
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return c, fmt.Errorf("no --token given and no %s: pass --token (and --appid, --aes-key) as configured on your server, "+
			"or start `wxgate serve` without --token in this directory first", path)
	case err != nil:
		return c, err
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("%s is not valid JSON", path)
	}
	if !wxcrypt.ValidToken(c.Token) || c.AppID == "" {
		return c, fmt.Errorf("%s lacks a valid appid or token", path)
	}
	return c, nil
}

// pushOptions are the flags of wxgate push.
type pushOptions struct {
	targetOptions
	mode, format, originalID, openID, body string
	deliveries, count, concurrency         int
	timeScale                              float64
	retryDelay                             time.Duration
	fields                                 []string
	verbose                                bool
}

const pushLong = `Play WeChat pushing a message or event to your server, and judge the answer
as WeChat would.

Each push is built from the message model with realistic values (openid,
19-digit increasing MsgId, CreateTime), signed (signature) and, in compat and
safe mode, encrypted (encrypt_type=aes, msg_signature, openid; compat sends
the plaintext fields plus Encrypt, safe only ToUserName and Encrypt). Each
delivery waits --timeout (5 s, like WeChat); a push that gets no answer, a
transport error or a status other than 200 is delivered again, up to
--deliveries times in all (WeChat's own count by default: 3, or its
schedule for xpay_* notifications, 16 deliveries over 24 h, which
--time-scale plays faster), with the same message and a fresh timestamp,
nonce and signature.

The answer is accepted when it is "success" or an empty body, or a
meaningful passive reply: transfer_customer_service to a user message,
{"ErrCode":0,...} to an xpay_* event, the answer to the iOS refund inquiry,
or an express result to an express-provider request, encrypted and signed
with a correct MsgSignature and AppID when the push was (safe mode), in the
push's format. The pushes that need an explicit acknowledgement (xpay_*,
the iOS refund inquiry, express requests) are not settled by "success":
the verdict is not_acknowledged, and WeChat delivers them again.
Anything else is a failure, which WeChat shows the user as
「` + wechatsim.FailurePrompt + `」; wxgate prints which failure it was and why.

What to send:
  text [CONTENT]            a text message
  image                     an image message (--pic-url, --media-id)
  card                      a mini program card, miniprogrampage (--title, --page-path)
  enter                     user_enter_tempsession (--session-from)
  event NAME                any event by name with realistic fields (event with no
                            NAME lists them); events without a typed model get the header
  --body FILE               a plaintext message from FILE ("-" for stdin), sent as is
                            and wrapped per --mode

--field NAME=VALUE (repeatable) sets or adds any field by its wire name;
dotted paths reach into objects and arrays (List.TemplateId, GoodsInfo.Quantity,
detail.0.prob). A value that is a JSON object or array is used as JSON.

--count N --concurrency C sends N distinct pushes, C at a time, and prints a
summary: sent, accepted, failures by reason, retries, latency percentiles and
throughput.

With no --token, the credentials come from .wxgate/credentials.json, which
` + "`wxgate serve`" + ` creates when it runs without --token: the two work together with
no setup. The server's credentials can also come from the environment
variables wxgate serve reads: WXGATE_TOKEN, WXGATE_AES_KEY (the first of a
comma-separated list), WXGATE_APPID and WXGATE_STATE_DIR. Every other flag
reads WXGATE_PUSH_ and its name in capitals, dashes as underscores
(--url is WXGATE_PUSH_URL).`

const pushExample = `  # Against a local 'wxgate serve' (development credentials, safe mode, XML):
  wxgate push text "hello"

  # Your own server, as configured in the console:
  WXGATE_TOKEN=... WXGATE_AES_KEY=... wxgate push --url https://example.com/wechat \
      --appid wx0123456789abcdef --mode safe --format json text "人工客服"

  wxgate push image
  wxgate push card --title "商品详情" --page-path "pages/goods/detail?id=1"
  wxgate push enter --session-from order_1024
  wxgate push event subscribe_msg_popup_event --field List.SubscribeStatusString=reject
  wxgate push event xpay_goods_deliver_notify --field GoodsInfo.Quantity=3
  wxgate push event                       # list the events with realistic fields
  wxgate push --body message.xml --mode compat

  # 1000 pushes, 50 at a time, 100 ms timeout, no retries:
  wxgate push text --count 1000 --concurrency 50 --timeout 100ms --deliveries 1`

func newPushCmd() *cobra.Command {
	o := &pushOptions{targetOptions: targetOptions{envPrefix: pushEnvPrefix}}
	cmd := &cobra.Command{
		Use:     "push [text|image|card|enter|event NAME] [flags]",
		Short:   "Push a message or event to a server as WeChat does, and judge the answer",
		Long:    pushLong,
		Example: pushExample,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.body == "" {
				return errors.New("say what to push: text, image, card, enter, event NAME, or --body FILE (see wxgate push --help)")
			}
			return runPush(cmd, o, "", nil)
		},
	}
	pf := cmd.PersistentFlags()
	o.addFlags(pf, true)
	pf.StringVar(&o.mode, "mode", "", "plain, compat or safe (default: safe when an EncodingAESKey is known, else plain)")
	pf.StringVar(&o.format, "format", "", "xml or json (default: xml, or the --body file's format)")
	pf.StringVar(&o.originalID, "original-id", "", "the mini program's original ID gh_... (ToUserName); derived from the AppID by default")
	pf.StringVar(&o.openID, "openid", "", "the sending user's openid (default: made up, one per user)")
	pf.IntVar(&o.deliveries, "deliveries", 0, "deliveries of a push that gets no answer, the first included (0: WeChat's own count for the push)")
	pf.Float64Var(&o.timeScale, "time-scale", 1, "multiply the pauses between deliveries (0.001 plays the 24 h xpay schedule in 87 s)")
	pf.DurationVar(&o.retryDelay, "retry-delay", 0, "pause between deliveries")
	pf.IntVar(&o.count, "count", 1, "number of distinct pushes")
	pf.IntVar(&o.concurrency, "concurrency", 1, "pushes in flight at once (with --count)")
	pf.StringArrayVar(&o.fields, "field", nil, "NAME=VALUE: set a field of the message (repeatable; dotted paths reach nested fields)")
	pf.BoolVarP(&o.verbose, "verbose", "v", false, "print the messages and answers")
	cmd.Flags().StringVar(&o.body, "body", "", "send the plaintext message in this file (- for stdin) as is")

	text := &cobra.Command{
		Use:   "text [CONTENT]",
		Short: "Push a text message",
		Example: `  wxgate push text hello
  wxgate push text "我要退货" --mode compat --format json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var pre map[string]string
			if len(args) > 0 {
				pre = map[string]string{"Content": strings.Join(args, " ")}
			}
			return runPush(cmd, o, message.MsgTypeText, pre)
		},
	}
	image := &cobra.Command{
		Use:     "image",
		Short:   "Push an image message",
		Example: `  wxgate push image --media-id MEDIA_ID`,
		Args:    cobra.NoArgs,
	}
	picURL := image.Flags().String("pic-url", "", "PicUrl (default: a made-up mmbiz URL)")
	mediaID := image.Flags().String("media-id", "", "MediaId (default: made up)")
	image.RunE = func(cmd *cobra.Command, _ []string) error {
		return runPush(cmd, o, message.MsgTypeImage, nonEmpty("PicUrl", *picURL, "MediaId", *mediaID))
	}
	card := &cobra.Command{
		Use:     "card",
		Short:   "Push a mini program card (miniprogrampage)",
		Example: `  wxgate push card --title "订单详情" --page-path "pages/order/detail?id=7"`,
		Args:    cobra.NoArgs,
	}
	title := card.Flags().String("title", "", "Title")
	pagePath := card.Flags().String("page-path", "", "PagePath")
	thumb := card.Flags().String("thumb-media-id", "", "ThumbMediaId")
	card.RunE = func(cmd *cobra.Command, _ []string) error {
		return runPush(cmd, o, message.MsgTypeMiniProgramPage, nonEmpty("Title", *title, "PagePath", *pagePath, "ThumbMediaId", *thumb))
	}
	enter := &cobra.Command{
		Use:     "enter",
		Short:   "Push user_enter_tempsession: the user opened the customer-service chat",
		Example: `  wxgate push enter --session-from '{"order":1024}'`,
		Args:    cobra.NoArgs,
	}
	sessionFrom := enter.Flags().String("session-from", "", "SessionFrom, the contact button's session-from")
	enter.RunE = func(cmd *cobra.Command, _ []string) error {
		var pre map[string]string
		if enter.Flags().Changed("session-from") {
			pre = map[string]string{"SessionFrom": *sessionFrom}
		}
		return runPush(cmd, o, message.EventUserEnterTempSession, pre)
	}
	event := &cobra.Command{
		Use:   "event [NAME]",
		Short: "Push any event by name with realistic fields (no NAME: list them)",
		Example: `  wxgate push event subscribe_msg_popup_event
  wxgate push event subscribe_msg_sent_event --field List.ErrorCode=10005 --field List.ErrorStatus=fail
  wxgate push event wxa_media_check --field result.suggest=risky
  wxgate push event add_express_path --field WaybillId=SF123   # any name: header plus fields`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				out := cmd.OutOrStdout()
				fmt.Fprintln(out, "events with realistic fields (any other name gets the header and your --field values):")
				for _, k := range wechatsim.SampleKinds() {
					if !isMessageKind(k) {
						fmt.Fprintln(out, "  "+k)
					}
				}
				return nil
			}
			return runPush(cmd, o, args[0], nil)
		},
	}
	cmd.AddCommand(text, image, card, enter, event)
	markSecret(pf, "token", "aes-key")
	declareEnv(cmd, pushEnvPrefix, sharedEnvFlags...)
	return cmd
}

func isMessageKind(k string) bool {
	return k == message.MsgTypeText || k == message.MsgTypeImage || k == message.MsgTypeMiniProgramPage
}

// nonEmpty returns a map of the name/value pairs whose value is set.
func nonEmpty(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			m[kv[i]] = kv[i+1]
		}
	}
	return m
}

// errPushFailed is returned when a push is not accepted, so that the exit
// status is 1; the diagnosis is already printed.
type errPushFailed struct{ failed, total int }

func (e errPushFailed) Error() string {
	if e.total == 1 {
		return "the push failed"
	}
	return fmt.Sprintf("%d of %d pushes failed", e.failed, e.total)
}

// runPush sends kind (or the --body file when kind is empty) with the
// fields pre, overridden by --field.
func runPush(cmd *cobra.Command, o *pushOptions, kind string, pre map[string]string) error {
	if err := bindEnv(cmd); err != nil {
		return err
	}
	out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
	switch {
	case o.count < 1:
		return badFlag(pushEnvPrefix, "count", "must be at least 1")
	case o.concurrency < 1:
		return badFlag(pushEnvPrefix, "concurrency", "must be at least 1")
	case o.deliveries < 0:
		return badFlag(pushEnvPrefix, "deliveries", "must not be negative (0 means WeChat's own count)")
	case o.timeScale <= 0:
		return badFlag(pushEnvPrefix, "time-scale", "must be positive")
	case o.retryDelay < 0:
		return badFlag(pushEnvPrefix, "retry-delay", "must not be negative")
	}
	fields := map[string]string{}
	for k, v := range pre {
		fields[k] = v
	}
	for _, kv := range o.fields {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return fmt.Errorf("--field %q: want NAME=VALUE", kv)
		}
		fields[strings.TrimSpace(k)] = v
	}
	var raw []byte
	if kind == "" {
		var err error
		if raw, err = readBodyFile(cmd.InOrStdin(), o.body); err != nil {
			return err
		}
		if len(fields) > 0 {
			return errors.New("--field does not apply to --body: edit the file")
		}
	}
	mode, err := wechatsim.ParseMode(o.mode)
	if err != nil {
		return badFlag(pushEnvPrefix, "mode", "%q is not plain, compat or safe", o.mode)
	}
	format, err := pickFormat(o.format, raw)
	if err != nil {
		return err
	}
	if err := o.resolve(errOut); err != nil {
		return err
	}
	if mode == wechatsim.ModeAuto && o.aesKey == "" {
		mode = wechatsim.ModePlain
	}
	c, err := wechatsim.NewClient(wechatsim.ClientConfig{
		URL: o.url, AppID: o.appID, Token: o.token, AESKey: o.aesKey, OriginalID: o.originalID,
		Mode: mode, Format: format, Timeout: o.timeout, Deliveries: o.deliveries, RetryDelay: o.retryDelay, TimeScale: o.timeScale,
		OpenID: o.openID, Concurrency: o.concurrency,
	})
	if err != nil {
		return err
	}
	defer c.Close()

	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	next := func(int) (message.Push, error) { return c.Sample(kind, fields) }
	if o.count == 1 {
		var oc *wechatsim.Outcome
		if raw != nil {
			oc, err = c.PushRaw(ctx, raw)
		} else {
			var p message.Push
			if p, err = next(0); err == nil {
				oc, err = c.Push(ctx, p)
			}
		}
		if err != nil {
			return err
		}
		printOutcome(out, c, oc, o.verbose)
		if !oc.Accepted {
			return errPushFailed{1, 1}
		}
		return nil
	}

	what := kind
	if raw != nil {
		what = "the --body message"
		next = nil
	}
	fmt.Fprintf(out, "pushing %d × %s to %s (%s, %s), %d at a time\n", o.count, what, c.Target(), c.Mode(), c.Format(), o.concurrency)
	var mu sync.Mutex
	examples := map[wechatsim.Verdict]string{}
	s, err := c.Run(ctx, wechatsim.RunConfig{
		Count: o.count, Concurrency: o.concurrency, Next: next, Raw: raw,
		OnOutcome: func(_ int, oc *wechatsim.Outcome) {
			if o.verbose {
				printOutcome(out, c, oc, false)
			}
			if !oc.Accepted {
				mu.Lock()
				if _, ok := examples[oc.Verdict]; !ok {
					examples[oc.Verdict] = oc.Reason
				}
				mu.Unlock()
			}
		},
	})
	if s != nil {
		fmt.Fprint(out, s.String())
		var vs []string
		for v := range examples {
			vs = append(vs, string(v))
		}
		sort.Strings(vs)
		for _, v := range vs {
			fmt.Fprintf(out, "  %s: %s\n", v, examples[wechatsim.Verdict(v)])
		}
		if s.Failed > 0 {
			fmt.Fprintf(out, "the users of failed pushes see: %s\n", wechatsim.FailurePrompt)
		}
	}
	if err != nil {
		return err
	}
	if s.Failed > 0 {
		return errPushFailed{s.Failed, s.Sent}
	}
	return nil
}

// pickFormat resolves --format; a --body file must match it when it is
// given, and sets it when it is not.
func pickFormat(flag string, raw []byte) (message.Format, error) {
	var f message.Format
	switch strings.ToLower(strings.TrimSpace(flag)) {
	case "":
	case "xml":
		f = message.FormatXML
	case "json":
		f = message.FormatJSON
	default:
		return 0, badFlag(pushEnvPrefix, "format", "%q is not xml or json", flag)
	}
	if raw == nil {
		if f == 0 {
			f = message.FormatXML
		}
		return f, nil
	}
	rf, err := message.DetectFormat(raw)
	if err != nil {
		return 0, errors.New("--body: the file is neither XML nor JSON")
	}
	if f != 0 && f != rf {
		return 0, fmt.Errorf("--body holds %s but --format is %s", rf, f)
	}
	return rf, nil
}

// readBodyFile reads the --body file, or stdin for "-".
func readBodyFile(stdin io.Reader, name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(io.LimitReader(stdin, 1<<20))
	}
	return os.ReadFile(name)
}

// printOutcome prints one push, its deliveries and the verdict.
func printOutcome(w io.Writer, c *wechatsim.Client, o *wechatsim.Outcome, verbose bool) {
	what := "message"
	id := ""
	if o.Push != nil {
		h := o.Push.Head()
		if h.MsgType != "" {
			what = h.MsgType
		}
		if h.MsgType == message.MsgTypeEvent {
			what = "event " + h.Event
		}
		switch m := o.Push.(type) {
		case *message.Text:
			id = ", MsgId " + string(m.MsgID)
		case *message.Image:
			id = ", MsgId " + string(m.MsgID)
		case *message.MiniProgramPage:
			id = ", MsgId " + string(m.MsgID)
		}
	}
	from := o.OpenID
	if from == "" {
		from = "no FromUserName"
	}
	fmt.Fprintf(w, "push %s from %s to %s (%s, %s%s)\n", what, from, c.Target(), c.Mode(), c.Format(), id)
	if verbose {
		fmt.Fprintf(w, "  message: %s\n", o.Plaintext)
		if c.Mode() != wechatsim.ModePlain {
			fmt.Fprintf(w, "  body:    %s\n", o.Body)
		}
	}
	for _, d := range o.Deliveries {
		if d.Status == 0 {
			fmt.Fprintf(w, "  delivery %d: no answer after %v (%s)\n", d.Attempt, wechatsim.RoundLatency(d.Latency), d.Verdict)
			continue
		}
		fmt.Fprintf(w, "  delivery %d: HTTP %d in %v, %s\n", d.Attempt, d.Status, wechatsim.RoundLatency(d.Latency), shortBody(d.Body, verbose))
	}
	if o.ReplyPlaintext != nil && (verbose || o.Accepted) {
		fmt.Fprintf(w, "  reply:   %s\n", shortBody(o.ReplyPlaintext, true))
	}
	if o.Accepted {
		fmt.Fprintf(w, "ACCEPTED (%s): %s\n", o.Verdict, o.Reason)
		return
	}
	fmt.Fprintf(w, "FAILED (%s): %s\n", o.Verdict, o.Reason)
	fmt.Fprintf(w, "the user sees: %s\n", o.UserVisibleFailure)
}

// shortBody quotes a body, shortened unless full is set.
func shortBody(b []byte, full bool) string {
	if len(b) == 0 {
		return "empty body"
	}
	if !full && len(b) > 120 {
		return fmt.Sprintf("%q… (%d bytes)", b[:120], len(b))
	}
	return fmt.Sprintf("%q", b)
}
