package mtproto_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The integration tests start servers and reader goroutines; every one must
// be stopped by the test that started it.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
