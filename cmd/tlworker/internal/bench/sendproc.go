package bench

import (
	"bufio"
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/tlsched/tlsched/cmd/tlworker/internal/jobs"
)

// sendFigures is one run of "tlworker send" as a whole process: n
// messages.sendMessage jobs to "me" (tgtest has no users, so no peer
// needs a network lookup on either server), results on its stdout.
type sendFigures struct {
	// StartupS is from process start to its first result line, read from
	// its stdout: process start, connecting with the session's saved key,
	// the help.getConfig probe, the first job (tlworker send writes its
	// first result line at once).
	StartupS float64 `json:"startup_s"`
	// NewKeyStartupS is StartupS of a one-job run with no saved key before
	// it (it makes the session the measured run then uses): a key exchange
	// is part of it.
	NewKeyStartupS float64 `json:"new_key_startup_s"`
	// SteadyPerSec is the jobs after the first burst of result lines (those
	// read within 1 ms of the first) over the time from the first result
	// line to the last.
	SteadyPerSec float64 `json:"steady_jobs_per_s"`
	// EndToEndPerSec is n over process start to exit.
	EndToEndPerSec float64 `json:"end_to_end_jobs_per_s"`
	// ExitS is from the last result line to the process's exit (closing).
	ExitS float64 `json:"exit_s"`
	// CPUPer10k is the tlworker process's CPU plus this process's (the
	// server's) over the run, per 10,000 jobs: comparable with figures.
	CPUPer10k float64 `json:"cpu_s_per_10k"`
	// FramesPerJob is the frames the server read per job (tgsim only; the
	// session's first frames included): comparable with
	// figures.FramesPerCall. Fewer, fuller containers cost both sides less.
	FramesPerJob float64 `json:"frames_per_job,omitempty"`
}

// sendRow puts tlworker send beside the library in process (runOurs with
// as many callers as tlworker send has jobs in flight), same server, same
// n, in the same run.
type sendRow struct {
	Server  string      `json:"server"`
	Jobs    int         `json:"jobs"`
	Send    sendFigures `json:"tlworker_send"` // medians over rounds
	Library figures     `json:"library"`
	// Ratio is tlworker send's steady jobs/s over the library's calls/s.
	Ratio float64 `json:"steady_ratio_send_library"`
}

// writeSendFiles writes the jobs file, a one-job file (the run that makes
// the session) and the server key (PEM) tlworker send reads.
func writeSendFiles(dir string, n int, key *rsa.PrivateKey) (jobsFile, oneFile, keyFile string, err error) {
	oneFile = filepath.Join(dir, "one.jsonl")
	if err := os.WriteFile(oneFile, []byte(`{"id":"first","method":"messages.sendMessage","params":{"peer":"me","message":"hi"}}`+"\n"), 0o600); err != nil {
		return "", "", "", err
	}
	jobsFile = filepath.Join(dir, "jobs.jsonl")
	f, err := os.Create(jobsFile)
	if err != nil {
		return "", "", "", err
	}
	w := bufio.NewWriter(f)
	for i := range n {
		fmt.Fprintf(w, `{"id":"m%d","method":"messages.sendMessage","params":{"peer":"me","message":"hi"}}`+"\n", i)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return "", "", "", err
	}
	if err := f.Close(); err != nil {
		return "", "", "", err
	}
	keyFile = filepath.Join(dir, "key.pem")
	der := x509.MarshalPKCS1PublicKey(&key.PublicKey)
	err = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: der}), 0o600)
	return jobsFile, oneFile, keyFile, err
}

var okTrue = []byte(`"ok":true`)

// runSend runs "tlworker send" (the binary at bin) on the jobs file against
// s and times it. extra are more send flags (--cpuprofile).
func runSend(bin string, s *Server, jobsFile, keyFile string, n int, extra []string) (sendFigures, error) {
	args := append([]string{"send", "--jobs", jobsFile, "--out", "-", "--progress", "none",
		"--dc", "2=" + s.Addr, "--server-key", keyFile}, extra...)
	cmd := exec.Command(bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return sendFigures{}, err
	}
	var f0 int64
	if s.Frames != nil {
		f0 = s.Frames()
	}
	c0 := cpuNow() + serverCPU(s)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return sendFigures{}, err
	}
	var first, last time.Time
	lines, failed, burst := 0, 0, 0
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		last = time.Now()
		if lines == 0 {
			first = last
		}
		if last.Sub(first) < time.Millisecond {
			burst++
		}
		lines++
		if !bytes.Contains(sc.Bytes(), okTrue) {
			failed++
		}
	}
	werr := cmd.Wait()
	exit := time.Now()
	if werr != nil {
		return sendFigures{}, fmt.Errorf("tlworker send: %v: %s", werr, strings.TrimSpace(stderr.String()))
	}
	if lines != n || failed > 0 {
		return sendFigures{}, fmt.Errorf("tlworker send: %d result lines for %d jobs, %d failed", lines, n, failed)
	}
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime() + (cpuNow() + serverCPU(s) - c0)
	f := sendFigures{
		StartupS:       first.Sub(start).Seconds(),
		EndToEndPerSec: float64(n) / exit.Sub(start).Seconds(),
		ExitS:          exit.Sub(last).Seconds(),
		CPUPer10k:      cpu.Seconds() / float64(n) * 10000,
	}
	if s.Frames != nil {
		f.FramesPerJob = float64(s.Frames()-f0) / float64(n)
	}
	if err := serverErr(s); err != nil {
		return sendFigures{}, err
	}
	if n > burst && last.After(first) {
		f.SteadyPerSec = float64(n-burst) / last.Sub(first).Seconds()
	}
	return f, nil
}

// sendRows measures tlworker send against the library on each server:
// rounds of (tlworker send, library), a fresh server each.
func sendRows(f benchFlags, servers []string, key *rsa.PrivateKey, logf func(string, ...any)) ([]sendRow, error) {
	dir, err := os.MkdirTemp("", "tlworker-bench")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	jobsFile, oneFile, keyFile, err := writeSendFiles(dir, f.sendJobs, key)
	if err != nil {
		return nil, err
	}
	start := func(server string) (*Server, error) { return StartServer(server, key) }
	if f.sendServer == "process" {
		privFile := filepath.Join(dir, "server.pem")
		if err := writeServerKey(privFile, key); err != nil {
			return nil, err
		}
		start = func(server string) (*Server, error) { return startServerProcess(server, privFile) }
	}
	var rows []sendRow
	for _, server := range servers {
		var extra []string
		if f.sendProfile != "" {
			// one profile per server: send.prof -> send-tgsim.prof
			ext := filepath.Ext(f.sendProfile)
			extra = append(extra, "--cpuprofile", strings.TrimSuffix(f.sendProfile, ext)+"-"+server+ext)
		}
		var sends []sendFigures
		var libs []figures
		for r := range f.rounds {
			logf("%s, tlworker send (%d jobs) vs the library, round %d/%d", server, f.sendJobs, r+1, f.rounds)
			s, err := start(server)
			if err != nil {
				return nil, err
			}
			// As a user runs it: the first run makes the key and saves it
			// in the session; the measured run starts with it.
			session := filepath.Join(dir, fmt.Sprintf("session-%s-%d.json", server, r))
			first, err := runSend(f.tlworker, s, oneFile, keyFile, 1, []string{"--session", session})
			if err != nil {
				s.Stop()
				return nil, fmt.Errorf("on %s, first run: %w", server, err)
			}
			sf, err := runSend(f.tlworker, s, jobsFile, keyFile, f.sendJobs, append(extra, "--session", session))
			s.Stop()
			if err != nil {
				return nil, fmt.Errorf("on %s: %w", server, err)
			}
			sf.NewKeyStartupS = first.StartupS
			sends = append(sends, sf)
			if s, err = start(server); err != nil {
				return nil, err
			}
			lf, err := runOurs(s, key, f.sendJobs, jobs.DefaultConcurrency)
			s.Stop()
			if err != nil {
				return nil, fmt.Errorf("library on %s: %w", server, err)
			}
			libs = append(libs, lf)
		}
		row := sendRow{Server: server, Jobs: f.sendJobs, Send: medianSend(sends), Library: median(libs)}
		row.Ratio = row.Send.SteadyPerSec / row.Library.CallsPerSec
		if row.Send.FramesPerJob > 0 {
			logf("%s: frames per job, send %.4f / library %.4f", server, row.Send.FramesPerJob, row.Library.FramesPerCall)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func medianSend(fs []sendFigures) sendFigures {
	pick := func(get func(sendFigures) float64) float64 {
		v := make([]float64, len(fs))
		for i, f := range fs {
			v[i] = get(f)
		}
		return medianOf(v)
	}
	return sendFigures{
		StartupS:       pick(func(f sendFigures) float64 { return f.StartupS }),
		NewKeyStartupS: pick(func(f sendFigures) float64 { return f.NewKeyStartupS }),
		SteadyPerSec:   pick(func(f sendFigures) float64 { return f.SteadyPerSec }),
		EndToEndPerSec: pick(func(f sendFigures) float64 { return f.EndToEndPerSec }),
		ExitS:          pick(func(f sendFigures) float64 { return f.ExitS }),
		CPUPer10k:      pick(func(f sendFigures) float64 { return f.CPUPer10k }),
		FramesPerJob:   pick(func(f sendFigures) float64 { return f.FramesPerJob }),
	}
}
