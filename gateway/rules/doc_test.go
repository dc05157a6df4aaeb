package rules

import (
	"context"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/wxgate/wxgate/gateway/config"
)

// TestDocExample runs the rules example of docs/configuration.md: each
// answer it promises.
func TestDocExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	var example string
	for _, block := range strings.Split(string(doc), "```yaml\n")[1:] {
		block = block[:strings.Index(block, "```")]
		if strings.Contains(block, "office_hours:") {
			example = block
			break
		}
	}
	if example == "" {
		t.Fatal("no rules example in docs/configuration.md")
	}
	env := []string{"SHOP_TOKEN=ShopToken1", "SHOP_APPSECRET=appsecret", "SHOP_WEBHOOK_SECRET=0123456789abcdef0123"}
	c, err := config.Parse("doc.yaml", []byte(example), config.WithEnviron(env))
	if err != nil {
		t.Fatal(err)
	}
	e, err := Compile("shop", c.Apps["shop"].Rules)
	if err != nil {
		t.Fatal(err)
	}
	open := at(t, "Asia/Shanghai", 2025, 6, 4, 10, 0) // Wednesday
	closed := at(t, "Asia/Shanghai", 2025, 6, 4, 20, 0)
	for _, tt := range []struct {
		name     string
		decision Decision
		rule     string
		send     []string
		passive  bool
		cont     bool
	}{
		{"welcome", e.Evaluate(enterSession("u1", ""), open), "welcome", []string{"你好！输入“价格”查看价目表，输入“人工”联系客服。"}, false, true},
		{"price", e.Evaluate(textMsg("u1", " Price "), open), "price", []string{"价目表请看这里：", "link"}, false, false},
		{"opening hours", e.Evaluate(textMsg("u1", "营业时间"), open), "opening-hours", []string{"我们周一至周五 9:00–18:00、周六 10:00–14:00 在线。"}, false, false},
		{"order", e.Evaluate(textMsg("u1", "ORDER 1234567"), open), "order", []string{"收到，正在查询您的订单……"}, false, true},
		{"human", e.Evaluate(textMsg("u1", "我要人工服务"), open), "human", []string{"正在为您转接人工客服。"}, true, true},
		{"fallback", e.Evaluate(textMsg("u1", "hello?"), open), "fallback", []string{"抱歉，没有听懂。输入“人工”联系客服。"}, false, true},
	} {
		d := tt.decision
		if d.Rule != tt.rule || !reflect.DeepEqual(texts(d.Send), tt.send) || (d.Passive != nil) != tt.passive || d.Continue != tt.cont || d.Away.Due {
			t.Errorf("%s: %+v", tt.name, d)
		}
	}
	if d := e.Evaluate(textMsg("u1", "order 123456"), open); !d.Typing {
		t.Error("order: no typing")
	}
	out, err := e.Outbox(context.Background(), e.Evaluate(textMsg("u2", "价格"), closed))
	if err != nil || !reflect.DeepEqual(texts(out), []string{"现在是下班时间，我们会在上班后第一时间回复您。", "价目表请看这里：", "link"}) {
		t.Errorf("closed: %q, %v", texts(out), err)
	}
}
