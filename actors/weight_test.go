package actors

import (
	"os/exec"
	"strings"
	"testing"
)

// Importing actors must not link gRPC nor the OTLP exporters (issue 21:
// they live in telemetry/otlp, which programs that export traces import).
// protoactor-go's actor package brings its Prometheus exporter and
// protobuf; those are not ours to drop.
func TestActorsLinkNoExporters(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command(goCmd, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		for _, bad := range []string{"google.golang.org/grpc", "go.opentelemetry.io/otel/exporters/otlp"} {
			if p == bad || strings.HasPrefix(p, bad+"/") {
				t.Errorf("actors imports %s", p)
			}
		}
	}
}
