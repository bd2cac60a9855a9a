package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tlsched/tlsched/tgsim"
)

func TestService(t *testing.T) {
	srv, err := tgsim.Start(tgsim.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	client, cache, err := connect(srv)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer((&service{client: client, cache: cache}).routes())
	post := func(body string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Post(hs.URL+"/send", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	if code, m := post(`{"peer":"@user1","message":"hi","id":"order-1"}`); code != 200 || m["ok"] != true {
		t.Fatalf("send: %d %v", code, m)
	}
	if code, _ := post(`{"peer":"@user1","message":"hi","id":"order-1"}`); code != 200 {
		t.Fatalf("repeat: %d", code)
	}
	if c := srv.Counters(); c.MessagesStored != 1 || c.Duplicates != 1 {
		t.Fatalf("the same id twice: %d stored, %d duplicates; want 1 and 1", c.MessagesStored, c.Duplicates)
	}
	for body, want := range map[string]struct {
		code int
		says string
	}{
		`{"peer":"@user1"}`:                     {400, `missing field "message"`},
		`{"message":"x"}`:                       {400, `missing field "peer"`},
		`not json`:                              {400, "invalid body"},
		`{"peer":"@a","message":"x","to":"y"}`:  {400, `unknown field "to"`},
		`{"peer":"@a","message":"x"}`:           {400, ""},
		`{"peer":"@nobody_here","message":"x"}`: {404, ""},
	} {
		code, m := post(body)
		msg, _ := m["error"].(string)
		if code != want.code || !strings.Contains(msg, want.says) || strings.Contains(msg, "<nil>") {
			t.Errorf("%s: %d %v, want %d saying %q", body, code, m, want.code, want.says)
		}
	}
	// Graceful shutdown: the HTTP server, then the client and the cache.
	hs.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := client.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cache.Close(); err != nil {
		t.Fatal(err)
	}
}
