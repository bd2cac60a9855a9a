package tl

// chatWrites lists the methods that post to the chat they name (a message,
// an album, a forward, an inline result): what a chat's slow mode limits
// (MTProto "Error handling": SLOWMODE_WAIT_X, "the chat is in slow mode;
// wait X seconds before sending another message"). Reading the chat,
// editing, deleting and reacting are not limited by it.
var chatWrites = map[string]bool{
	"messages.sendMessage":            true,
	"messages.sendMedia":              true,
	"messages.sendMultiMedia":         true,
	"messages.forwardMessages":        true,
	"messages.sendInlineBotResult":    true,
	"messages.sendQuickReplyMessages": true,
}

// WritesToChat reports whether the method posts to the chat it names, so
// that the chat's slow mode holds it back.
func WritesToChat(method *Definition) bool { return method != nil && chatWrites[method.Name] }
