package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The browser tests drive Debian's Chromium (WXGATE_TEST_CHROMIUM) through
// the console of a wxgate dev started in the test. They wait for what the
// page shows, never for a fixed time. Screenshots of each view go to a
// temporary directory, or to WXGATE_TEST_SCREENSHOTS (the docs' images are
// made with WXGATE_TEST_SCREENSHOTS=docs/img).

// browser is one headless Chromium tab on a running wxgate dev.
type browser struct {
	t     *testing.T
	ctx   context.Context
	base  string
	shots string
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	exe := os.Getenv("WXGATE_TEST_CHROMIUM")
	if exe == "" {
		t.Skip("WXGATE_TEST_CHROMIUM is not set: set it to a Chromium binary (apt-get install chromium fonts-noto-cjk; /usr/bin/chromium) to run the browser tests")
	}
	if _, err := os.Stat(exe); err != nil {
		t.Fatalf("WXGATE_TEST_CHROMIUM: %v", err)
	}
	shots := os.Getenv("WXGATE_TEST_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.WindowSize(1440, 900), chromedp.Flag("lang", "zh-CN"),
		chromedp.Flag("force-prefers-reduced-motion", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	t.Cleanup(func() { cancel(); cancelTab(); cancelAlloc() })
	return &browser{t: t, ctx: ctx, base: base, shots: shots}
}

// do runs steps and fails the test at the first error, saying what it did.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// until waits for a JavaScript predicate to hold on the page, across the
// navigation a form's submission causes.
func (b *browser) until(what, predicate string) {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := chromedp.Run(b.ctx, chromedp.Poll[bool](predicate, chromedp.WithPollingTimeout(time.Until(deadline))))
		if err == nil {
			return
		}
		if time.Now().After(deadline) || b.ctx.Err() != nil || !navigating(err) {
			b.failed(what, err)
		}
	}
}

// failed ends the test with what the page showed.
func (b *browser) failed(what string, err error) {
	b.t.Helper()
	loc, _ := chromedp.Run(b.ctx, chromedp.Location())
	text, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 2000) : ""`))
	if png, perr := chromedp.Run(b.ctx, chromedp.FullScreenshot(100)); perr == nil {
		os.WriteFile(filepath.Join(b.shots, "failure.png"), png, 0o644)
	}
	b.t.Fatalf("waiting for %s: %v\nat %s, the page shows:\n%s", what, err, loc, text)
}

// navigating reports an error that only says the page changed under the
// poll (a form was submitted): the poll starts again on the new page.
func navigating(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "navigated or closed") || strings.Contains(msg, "context was destroyed") ||
		strings.Contains(msg, "Cannot find context")
}

// open loads a page of the console and waits for its main element.
func (b *browser) open(path string) {
	b.t.Helper()
	b.do("opening "+path, chromedp.Navigate(b.base+path), chromedp.WaitVisible(chromedp.ID("main")))
}

// logHas is a predicate: the chat's conversation holds text.
func logHas(text string) string {
	return `(document.getElementById("log") || {textContent: ""}).textContent.includes(` + strconv.Quote(text) + `)`
}

// say sends text from the chat's composer, by keyboard.
func (b *browser) say(text string) {
	b.t.Helper()
	b.do("typing "+text, chromedp.Focus(chromedp.ID("text")), chromedp.SendKeys(chromedp.ID("text"), text+kb.Enter))
}

// shot saves a screenshot of the whole page as name.png.
func (b *browser) shot(name string) { b.save(name, chromedp.FullScreenshot(100)) }

// shotViewport saves a screenshot of what the viewport shows.
func (b *browser) shotViewport(name string) { b.save(name, chromedp.CaptureScreenshot()) }

func (b *browser) save(name string, capture chromedp.Action[[]byte]) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, capture)
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// TestDevConsoleInBrowser: a developer's first minutes with wxgate dev, in
// Chromium: chat and get the keyword reply, enter the session and get the
// welcome, switch to safe mode and JSON and chat again, read a push's
// decrypted body on the wire, make a dead letter and redeliver it.
func TestDevConsoleInBrowser(t *testing.T) {
	p := startTestDev(t, t.TempDir(), func(o *devOptions) { o.mode, o.format = "plain", "xml" })
	b := newBrowser(t, p.baseURL)

	// Chat, in Chinese: a keyword and its reply, live. The first Tab
	// reaches the skip link.
	b.open("/chat?lang=zh")
	b.until("the chat in Chinese", `document.documentElement.lang === "zh-CN" && !!document.getElementById("composer")`)
	b.do("pressing Tab", chromedp.KeyEvent(kb.Tab))
	b.until("the skip link focused", `document.activeElement.classList.contains("skip")`)
	b.say("价格")
	b.until("the keyword reply", logHas("价目表请看这里"))
	b.until("the link card", `!!document.querySelector("#log .k-link")`)

	// Enter the session with a SessionFrom: the welcome.
	b.do("entering the session",
		chromedp.Click(chromedp.CSS("#tools summary")),
		chromedp.WaitVisible(chromedp.ID("session-from")),
		chromedp.SendKeys(chromedp.ID("session-from"), "order-42"),
		chromedp.Click(chromedp.ID("enter")))
	b.until("the welcome", logHas("欢迎"))
	b.until("the session entry", logHas("SessionFrom：order-42"))

	// The typing indicator while the webhook looks an order up, then its
	// answer; the picture rule's image and card; the transfer notice.
	b.do("trying a suggestion", chromedp.Click(chromedp.CSS(`.chips button[aria-label*="订单 42"]`)))
	b.until("the typing indicator", `!document.getElementById("typing").hidden`)
	b.until("the webhook's answer", logHas("订单 42 已发货"))
	b.until("typing over", `document.getElementById("typing").hidden`)
	b.say("图片")
	b.until("the image and the card", `document.querySelectorAll("#log .k-image img, #log .k-card img").length >= 2`)
	b.say("我要人工")
	b.until("the transfer notice", logHas("已转接人工客服"))
	b.shot("chat")

	// Settings: safe mode and JSON, then chat again.
	b.open("/settings")
	b.shot("settings")
	b.do("switching to safe mode and JSON",
		chromedp.Click(chromedp.ID("mode-safe")), chromedp.Click(chromedp.ID("format-json")), chromedp.Click(chromedp.ID("save")))
	b.until("the settings saved", `location.search.includes("flash=saved") && document.getElementById("mode-safe").checked && document.getElementById("format-json").checked`)
	b.open("/chat")
	b.say("price")
	b.until("the keyword reply in safe mode and JSON", `document.querySelectorAll("#log .k-link").length === 2`)

	// The wire: the newest push, safe mode JSON, decrypted.
	b.open("/wire")
	b.until("the wire's rows", `document.querySelectorAll("#wire-rows tr").length >= 6`)
	b.shot("wire")
	b.do("opening the newest push", chromedp.Click(chromedp.CSS("#wire-rows tr:first-child a")))
	b.until("the decrypted body", `(document.getElementById("plaintext") || {textContent: ""}).textContent.includes('"Content": "price"') &&
		document.getElementById("raw-body").textContent.includes('"Encrypt"')`)
	b.shot("wire-push")

	// A dead letter: the sample webhook fails, a push dies after its
	// attempts; the Server page shows it live; redelivered once the webhook
	// works, it is delivered.
	b.open("/settings")
	b.do("making the webhook fail", chromedp.Click(chromedp.ID("webhook-fail")), chromedp.Click(chromedp.ID("save")))
	b.until("the settings saved", `location.search.includes("flash=saved") && document.getElementById("webhook-fail").checked`)
	b.open("/chat")
	b.say("hello")
	b.open("/server")
	b.until("the dead letter, live", `document.querySelectorAll("#dead-letters tbody tr").length === 1`)
	b.open("/settings")
	b.do("repairing the webhook", chromedp.Click(chromedp.ID("webhook-fail")), chromedp.Click(chromedp.ID("save")))
	b.until("the settings saved", `location.search.includes("flash=saved") && !document.getElementById("webhook-fail").checked`)
	b.open("/server")
	b.do("redelivering", chromedp.Click(chromedp.CSS("#dead-letters button.redeliver")))
	b.until("no dead letter left", `location.search.includes("flash=redelivered-1") && !!document.getElementById("no-dead")`)
	b.until("the redelivery made", `Number(document.getElementById("c-delivered").textContent) >= 3`)
	b.shot("server")
	b.do("opening the redelivered message", chromedp.Click(chromedp.CSS("#messages tbody tr:first-child td:last-child a")))
	b.until("its attempts, the last delivered", `!!document.querySelector('[data-state="done"]') &&
		document.querySelectorAll('[data-live="deliveries"] tbody tr').length === 4`)
	b.shot("server-message")
	b.open("/chat")
	b.until("the webhook's echo after the redelivery", logHas("webhook 收到 / received: hello"))

	// A phone's width, and English.
	b.do("a 360 px viewport", chromedp.EmulateViewport(360, 780, chromedp.EmulateMobile))
	b.open("/chat?lang=en")
	b.until("the chat in English", `document.documentElement.lang === "en" && document.getElementById("composer").getBoundingClientRect().width <= 360`)
	b.until("no horizontal scroll", `document.documentElement.scrollWidth <= 360`)
	b.shotViewport("chat-360")
}
