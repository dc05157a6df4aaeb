package web

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
)

// DevConfig is what the development configuration of `wxgate dev` is made
// of: one app with the development credentials, the sample rules, the
// mock Open API and the console's sample webhook.
type DevConfig struct {
	// Listen is the address the gateway is served on (the console's).
	Listen string
	// StateDir holds the SQLite database (dev.db) and the sample media.
	StateDir string
	// AppID, Token, AESKey and Secret are the app's credentials; Secret is
	// the AppSecret the mock accepts.
	AppID, Token, AESKey, Secret string
	// AdminToken turns the /v1/ API on.
	AdminToken string
	// OpenAPIURL is the mock Open API's base URL.
	OpenAPIURL string
	// WebhookURL and WebhookSecret are the sample webhook's.
	WebhookURL, WebhookSecret string
	// PictureFile and CoverFile are the sample rules' images (see
	// WriteSampleMedia).
	PictureFile, CoverFile string
}

// Variables the development configuration reads its secrets from, given
// with config.WithEnviron(d.Environ()) in place of the process's
// environment (whose WXGATE_ variables are serve's, not dev's), so that
// its text holds no secret.
const (
	envToken         = "APP_TOKEN"
	envAESKey        = "APP_AES_KEY"
	envSecret        = "APP_SECRET"
	envAdminToken    = "ADMIN_TOKEN"
	envWebhookSecret = "WEBHOOK_SECRET"
)

// Delivery policy of the development configuration: quick retries, few
// attempts, so that a failing webhook makes a dead letter in seconds.
const (
	devMaxAttempts    = 3
	devInitialBackoff = "200ms"
	devMaxBackoff     = "1s"
	devTimeout        = "2s"
)

// YAML returns the configuration file, with ${…} references for the
// secrets (see Environ). It loads with config.Parse.
func (d DevConfig) YAML() []byte {
	q := strconv.Quote
	var b bytes.Buffer
	fmt.Fprintf(&b, `# wxgate dev: the development configuration (secrets come from variables)
listen: %s
state_dir: %s
store: %s
openapi_url: %s
admin:
  token: ${%s}
delivery:
  max_attempts: %d
  initial_backoff: %s
  max_backoff: %s
  timeout: %s
apps:
  default:
    path: /wechat
    appid: %s
    token: ${%s}
    aes_keys: ["${%s}"]
    mode: auto
    allow_plaintext: true          # the console switches between plain, compat and safe mode
    secret: ${%s}
    destinations:
      - name: console
        webhook:
          url: %s
          secret: ${%s}
`, q(d.Listen), q(d.StateDir), q("sqlite:"+filepath.Join(d.StateDir, "dev.db")), q(d.OpenAPIURL), envAdminToken,
		devMaxAttempts, devInitialBackoff, devMaxBackoff, devTimeout,
		q(d.AppID), envToken, envAESKey, envSecret, q(d.WebhookURL), envWebhookSecret)
	fmt.Fprintf(&b, `    rules:
      rules:
        - name: welcome
          match: {enter_session: true}
          reply: %s
        - name: price
          match: {keyword: [价格, price], ignore_case: true}
          reply:
            - text: %s
            - link:
                title: %s
                description: %s
                url: https://example.com/prices
                thumb_url: https://example.com/prices.png
          continue: false
        - name: picture
          match: {keyword: [图片, picture], ignore_case: true}
          reply:
            - image: %s
            - miniprogrampage:
                title: %s
                pagepath: pages/index/index?from=wxgate
                thumb_media: %s
          continue: false
        - name: order
          match: {regex: '^(订单|order)\s*\d+$', ignore_case: true}
          typing: true                 # while the webhook (your code) looks the order up
        - name: human
          match: {contains: 人工}
          reply: %s
          transfer: true
          continue: false
`, q("你好，欢迎！发送“价格”或“图片”试试，发送“人工”转人工客服。Hi! Send “price” or “picture”, or “人工” for a person."),
		q("价目表请看这里 / Our prices:"), q("价目表 Price list"), q("wxgate 示例 / a sample link"),
		q(d.PictureFile), q("示例页面 Sample page"), q(d.CoverFile),
		q("正在为您转接人工客服… Connecting you to a person…"))
	return b.Bytes()
}

// Environ returns the variables that YAML's references read.
func (d DevConfig) Environ() []string {
	return []string{
		envToken + "=" + d.Token, envAESKey + "=" + d.AESKey, envSecret + "=" + d.Secret,
		envAdminToken + "=" + d.AdminToken, envWebhookSecret + "=" + d.WebhookSecret,
	}
}

// WriteSampleMedia writes the sample rules' images into dir/dev-media and
// returns their paths.
func WriteSampleMedia(dir string) (picture, cover string, err error) {
	media := filepath.Join(dir, "dev-media")
	if err := os.MkdirAll(media, 0o700); err != nil {
		return "", "", err
	}
	picture, cover = filepath.Join(media, "picture.png"), filepath.Join(media, "cover.png")
	for _, f := range []struct {
		path       string
		w, h       int
		from, to   color.RGBA
		withBubble bool
	}{
		{picture, 480, 320, color.RGBA{0x07, 0xc1, 0x60, 0xff}, color.RGBA{0x10, 0x6e, 0xbe, 0xff}, true},
		{cover, 500, 400, color.RGBA{0xfa, 0x9d, 0x3b, 0xff}, color.RGBA{0xe6, 0x43, 0x40, 0xff}, false},
	} {
		var buf bytes.Buffer
		if err := png.Encode(&buf, sampleImage(f.w, f.h, f.from, f.to, f.withBubble)); err != nil {
			return "", "", err
		}
		if err := os.WriteFile(f.path, buf.Bytes(), 0o600); err != nil {
			return "", "", err
		}
	}
	return picture, cover, nil
}

// sampleImage draws a diagonal gradient with a white disc (and a speech
// bubble's tail when bubble is set).
func sampleImage(w, h int, from, to color.RGBA, bubble bool) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	cx, cy, r := w/2, h/2, h/4
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			t := float64(x+y) / float64(w+h)
			c := color.RGBA{
				R: uint8(float64(from.R)*(1-t) + float64(to.R)*t), G: uint8(float64(from.G)*(1-t) + float64(to.G)*t),
				B: uint8(float64(from.B)*(1-t) + float64(to.B)*t), A: 0xff,
			}
			dx, dy := x-cx, y-cy
			inDisc := dx*dx+dy*dy <= r*r
			inTail := bubble && y > cy && y < cy+r+r/3 && x > cx-r && x < cx-r/3 && (cy+r+r/3-y) > (x-(cx-r))
			if inDisc || inTail {
				c = color.RGBA{0xff, 0xff, 0xff, 0xff}
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}
