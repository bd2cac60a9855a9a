package tl

import "testing"

// TestBareConstructorIsConstructor: the shortcut for class names gives the
// same answer as the lookup for every type of every field and every name.
func TestBareConstructorIsConstructor(t *testing.T) {
	names := map[string]bool{"InputPeer": true, "inputPeerSelf": true, "Vector<User>": true, "": true}
	for i := range definitions {
		names[definitions[i].Name] = true
		names[definitions[i].Type] = true
		for _, p := range definitions[i].Params {
			names[p.Type] = true
		}
	}
	for n := range names {
		c1, ok1 := bareConstructor(n)
		c2, ok2 := Constructor(n)
		if c1 != c2 || ok1 != ok2 {
			t.Errorf("%q: bareConstructor %v %v, Constructor %v %v", n, c1, ok1, c2, ok2)
		}
	}
}
