package otlp_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tlsched/tlsched/telemetry"
	_ "github.com/tlsched/tlsched/telemetry/otlp"
)

// Imported, the package makes Setup take the OTLP exporters, and checks
// their endpoints.
func TestRegistersOTLP(t *testing.T) {
	ctx := context.Background()
	if _, err := telemetry.Setup(ctx, telemetry.Config{Exporter: "otlp-grpc", Endpoint: "http://127.0.0.1:4317"}); err == nil || !strings.Contains(err.Error(), "want host:port") {
		t.Fatalf("otlp-grpc with a URL: %v", err)
	}
	for _, exp := range []string{"otlp-grpc", "otlp-http"} {
		// Exporters connect lazily: Setup succeeds with nothing listening.
		tel, err := telemetry.Setup(ctx, telemetry.Config{Exporter: exp, Endpoint: "127.0.0.1:1", Insecure: true, Logf: func(string, ...any) {}})
		if err != nil {
			t.Fatalf("%s: %v", exp, err)
		}
		sctx, cancel := context.WithTimeout(ctx, 2e9)
		_ = tel.Shutdown(sctx) // nothing listens: a failed flush is expected
		cancel()
	}
}
