package tl

import "testing"

func TestWritesToChat(t *testing.T) {
	for name := range chatWrites {
		def, err := Method(name)
		if err != nil {
			t.Fatalf("%s: not a method of layer %d: %v", name, Layer, err)
		}
		if !WritesToChat(def) {
			t.Fatalf("%s: not a write", name)
		}
	}
	for _, name := range []string{"messages.getHistory", "messages.editMessage", "messages.deleteMessages", "messages.sendReaction", "channels.getMessages"} {
		def, err := Method(name)
		if err != nil {
			t.Fatal(err)
		}
		if WritesToChat(def) {
			t.Fatalf("%s counted as a write to the chat", name)
		}
	}
}
