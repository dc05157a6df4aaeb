package push

import (
	"strings"
	"time"

	"github.com/wxgate/wxgate/message"
)

// replyDeadline and acknowledges stand in for the message package's
// ReplyDeadline and Acknowledges until they land.
func replyDeadline(message.Push) time.Duration { return 5 * time.Second }

func acknowledges(p message.Push, r message.Reply) bool {
	if h := p.Head(); h.MsgType == message.MsgTypeEvent && strings.HasPrefix(h.Event, "xpay_") {
		return r == message.XPayOK
	}
	return true
}
