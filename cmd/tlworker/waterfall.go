package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/tlsched/tlsched/cmd/tlworker/internal/cli"
)

// trace is "tlworker trace": it fetches a trace from a Jaeger query service
// and draws it as a text waterfall: one line per span, indented under its
// parent, a bar on the trace's time axis, and for each container the calls
// it carried. (The tracing flags other commands take are in traceflags.go.)
func trace(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("trace", stderr)
	query := fs.String("query", "http://127.0.0.1:16686", "Jaeger query service base URL")
	width := fs.Int("width", 60, "width of the time axis in characters")
	if err := cli.ParseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return cli.Usagef("trace takes one trace id")
	}
	id := strings.ToLower(strings.TrimSpace(fs.Arg(0)))
	if len(id) == 0 || len(id) > 32 || strings.Trim(id, "0123456789abcdef") != "" {
		return cli.Usagef("trace id %q: want up to 32 hex digits", fs.Arg(0))
	}
	base, err := url.Parse(*query)
	if err != nil || base.Scheme == "" || base.Host == "" {
		return cli.Usagef("--query %q: want a URL such as http://127.0.0.1:16686", *query)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	spans, err := fetchTrace(ctx, base.JoinPath("api", "traces", id).String())
	if err != nil {
		return err
	}
	return drawWaterfall(stdout, spans, *width)
}

// jaegerSpan is a span in the query service's JSON (/api/traces/ID).
type jaegerSpan struct {
	TraceID       string `json:"traceID"`
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	References    []struct {
		RefType string `json:"refType"` // CHILD_OF or FOLLOWS_FROM (a link)
		SpanID  string `json:"spanID"`
	} `json:"references"`
	StartTime int64 `json:"startTime"` // µs since the epoch
	Duration  int64 `json:"duration"`  // µs
	Tags      []struct {
		Key   string `json:"key"`
		Value any    `json:"value"`
	} `json:"tags"`
}

func fetchTrace(ctx context.Context, u string) ([]jaegerSpan, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("query service: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("trace not found at %s", u)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("query service: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	var body struct {
		Data []struct {
			Spans []jaegerSpan `json:"spans"`
		} `json:"data"`
		Errors []struct {
			Msg string `json:"msg"`
		} `json:"errors"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("query service answer: %w", err)
	}
	if len(body.Errors) > 0 {
		return nil, fmt.Errorf("query service: %s", body.Errors[0].Msg)
	}
	if len(body.Data) == 0 || len(body.Data[0].Spans) == 0 {
		return nil, fmt.Errorf("trace not found at %s", u)
	}
	return body.Data[0].Spans, nil
}

func drawWaterfall(w io.Writer, spans []jaegerSpan, width int) error {
	if width < 10 {
		width = 10
	}
	byID := map[string]*jaegerSpan{}
	children := map[string][]*jaegerSpan{}
	var roots []*jaegerSpan
	start, end := int64(1<<62), int64(0)
	for i := range spans {
		s := &spans[i]
		byID[s.SpanID] = s
		start = min(start, s.StartTime)
		end = max(end, s.StartTime+s.Duration)
	}
	for i := range spans {
		s := &spans[i]
		parent := ""
		for _, r := range s.References {
			if r.RefType == "CHILD_OF" && byID[r.SpanID] != nil {
				parent = r.SpanID
			}
		}
		if parent == "" {
			roots = append(roots, s)
		} else {
			children[parent] = append(children[parent], s)
		}
	}
	order := func(l []*jaegerSpan) {
		sort.SliceStable(l, func(i, j int) bool { return l[i].StartTime < l[j].StartTime })
	}
	order(roots)
	total := max(end-start, 1)
	fmt.Fprintf(w, "trace %s: %d spans, %v\n", spans[0].TraceID, len(spans), time.Duration(total)*time.Microsecond)
	var walk func(s *jaegerSpan, depth int)
	walk = func(s *jaegerSpan, depth int) {
		name := strings.Repeat("  ", depth) + s.OperationName
		if len(name) > 40 {
			name = name[:39] + "…"
		}
		from := int(float64(s.StartTime-start) / float64(total) * float64(width))
		n := max(1, int(float64(s.Duration)/float64(total)*float64(width)))
		from = min(from, width-1)
		n = min(n, width-from)
		bar := strings.Repeat(" ", from) + strings.Repeat("█", n) + strings.Repeat(" ", width-from-n)
		fmt.Fprintf(w, "%-40s |%s| %v%s\n", name, bar, time.Duration(s.Duration)*time.Microsecond, carried(s, byID))
		kids := children[s.SpanID]
		order(kids)
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
	return nil
}

// carried describes the calls a container span links to.
func carried(s *jaegerSpan, byID map[string]*jaegerSpan) string {
	count := map[string]int{}
	n := 0
	for _, r := range s.References {
		if r.RefType != "FOLLOWS_FROM" {
			continue
		}
		n++
		if t := byID[r.SpanID]; t != nil {
			count[t.OperationName]++
		} else {
			count["(outside this trace)"]++
		}
	}
	if n == 0 {
		return ""
	}
	var parts []string
	for name, c := range count {
		parts = append(parts, fmt.Sprintf("%s ×%d", name, c))
	}
	sort.Strings(parts)
	return "  carries " + strings.Join(parts, ", ")
}
