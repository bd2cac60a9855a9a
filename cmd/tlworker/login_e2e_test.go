package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlsched/tlsched/tgsim"
)

// tlworker login --phone asks for the code on stdin, and takes the 2FA
// password from TLSCHED_PASSWORD (never from argv); the phone may come
// from TLSCHED_PHONE.
func TestLoginByPhoneWithPassword(t *testing.T) {
	bin := buildBinary(t)
	srv, conn := simFor(t, tgsim.Config{RequireLogin: true, World: tgsim.WorldConfig{Users: 3}})
	user := srv.Users()[0]
	if err := srv.SetPassword(user.ID, "pw from env"); err != nil {
		t.Fatal(err)
	}
	session := filepath.Join(t.TempDir(), "u.json")
	cmd := exec.Command(bin, append([]string{"login", "--session", session}, conn...)...)
	cmd.Env = append(os.Environ(), "TLSCHED_PHONE="+user.Phone, "TLSCHED_PASSWORD=pw from env", "TLSCHED_BOT_TOKEN=")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout strings.Builder
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Answer the prompt with the code tgsim issued.
	prompted := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stderr)
		var seen strings.Builder
		buf := make([]byte, 1)
		for {
			if _, err := r.Read(buf); err != nil {
				prompted <- seen.String()
				return
			}
			seen.Write(buf)
			if strings.HasSuffix(seen.String(), "login code: ") {
				prompted <- ""
				_, _ = io.Copy(io.Discard, r)
				return
			}
		}
	}()
	select {
	case out := <-prompted:
		if out != "" {
			t.Fatalf("no code prompt; stderr: %s", out)
		}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("no code prompt in 60 s")
	}
	if _, err := io.WriteString(stdin, srv.LoginCode(user.Phone)+"\n"); err != nil {
		t.Fatal(err)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("login: %v; stdout %s", err, stdout.String())
	}
	if !strings.Contains(stdout.String(), "logged in as") || !strings.Contains(stdout.String(), fmt.Sprintf("home DC %d", user.DC)) {
		t.Fatalf("stdout %q", stdout.String())
	}
}
