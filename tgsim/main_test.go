package tgsim_test

import (
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"go.uber.org/goleak"
)

// testKey is shared: a 2048-bit key takes a while to generate.
var testKey *rsa.PrivateKey

func TestMain(m *testing.M) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	testKey = k
	goleak.VerifyTestMain(m)
}
