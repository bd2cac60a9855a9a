package tl

import "testing"

func TestResendable(t *testing.T) {
	for name, want := range map[string]bool{
		"messages.sendMessage":     true, // random_id
		"messages.forwardMessages": true, // random_id vector
		"messages.sendMedia":       true,
		"users.getUsers":           true, // reads
		"contacts.resolveUsername": true,
		"messages.search":          true,
		"updates.getState":         true,
		"messages.deleteMessages":  false,
		"messages.editMessage":     false,
		"channels.joinChannel":     false,
		"auth.signIn":              false,
	} {
		def, err := Method(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := Resendable(def); got != want {
			t.Errorf("Resendable(%s) = %v, want %v", name, got, want)
		}
	}
	if Resendable(nil) {
		t.Error("Resendable(nil)")
	}
}
