// Package etcdtest starts a real single-member etcd server inside the test
// process (go.etcd.io/etcd/server/v3/embed) and hands out clients to it.
//
// Everything it starts is stopped in t.Cleanup: clients first, then the
// server, so tests may check for leaked goroutines afterwards.
package etcdtest

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// readyTimeout bounds the wait for the server to become ready; it is long
// because -race builds on a loaded machine start slowly.
const readyTimeout = 30 * time.Second

// Etcd is a running embedded etcd server.
type Etcd struct {
	// Endpoint is the server's client URL (http://127.0.0.1:port).
	Endpoint string
}

// Start starts a single-member etcd with its data in t.TempDir(), listening on
// free loopback ports, and waits until it serves. It fails the test if the
// server is not ready within 30 s. The server is closed in t.Cleanup.
func Start(t *testing.T) *Etcd {
	t.Helper()
	e, stop, err := Serve(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return e
}

// Serve is Start for a process that is not a test (a test's helper
// process): the data lives in dir, and stop closes the server.
func Serve(dir string) (*Etcd, func(), error) {
	cfg := embed.NewConfig()
	cfg.Name = "etcdtest"
	cfg.Dir = dir
	// Port 0: the kernel picks free ports, so parallel test binaries do not
	// collide. The peer URL is never dialled in a one-member cluster.
	peer := url.URL{Scheme: "http", Host: "127.0.0.1:0"}
	client := url.URL{Scheme: "http", Host: "127.0.0.1:0"}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = "error"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("etcdtest: start etcd: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, nil, fmt.Errorf("etcdtest: etcd failed before ready: %w", err)
	case <-time.After(readyTimeout):
		e.Close()
		return nil, nil, fmt.Errorf("etcdtest: etcd not ready after %v", readyTimeout)
	}
	return &Etcd{Endpoint: "http://" + e.Clients[0].Addr().String()}, e.Close, nil
}

// Client returns a new client of the server; it is closed in t.Cleanup
// (closing it earlier is allowed).
func (e *Etcd) Client(t *testing.T) *clientv3.Client {
	t.Helper()
	return ClientOf(t, e.Endpoint)
}

// ClientOf returns a new client of the etcd at endpoint (e.g. a Proxy's),
// closed in t.Cleanup. Its logs are discarded.
func ClientOf(t *testing.T, endpoint string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{endpoint},
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		t.Fatalf("etcdtest: client of %s: %v", endpoint, err)
	}
	t.Cleanup(func() { _ = cli.Close() }) // a second Close only reports the closed connection
	return cli
}

// Proxy forwards TCP connections to an etcd server until Partition is called;
// from then on it is a black hole: it keeps accepting and reading but never
// forwards or answers, as a network partition does (requests hang instead of
// failing fast).
type Proxy struct {
	// Endpoint is the URL clients should use to reach etcd through the proxy.
	Endpoint string

	ln       net.Listener
	upstream string
	wg       sync.WaitGroup

	mu          sync.Mutex
	partitioned bool
	closed      bool
	conns       map[net.Conn]struct{}
}

// NewProxy starts a proxy to e on a free loopback port; it is closed in
// t.Cleanup.
func (e *Etcd) NewProxy(t *testing.T) *Proxy {
	t.Helper()
	u, err := url.Parse(e.Endpoint)
	if err != nil {
		t.Fatalf("etcdtest: parse %s: %v", e.Endpoint, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("etcdtest: proxy listen: %v", err)
	}
	p := &Proxy{
		Endpoint: "http://" + ln.Addr().String(),
		ln:       ln,
		upstream: u.Host,
		conns:    map[net.Conn]struct{}{},
	}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Partition stops all forwarding, in both directions, for good.
func (p *Proxy) Partition() {
	p.mu.Lock()
	p.partitioned = true
	p.mu.Unlock()
}

// Close closes the listener and every connection and waits for the proxy's
// goroutines to end. It is idempotent.
func (p *Proxy) Close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		_ = p.ln.Close()
		for c := range p.conns {
			_ = c.Close()
		}
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// track registers c so Close can close it; false if the proxy is closed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) isPartitioned() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.partitioned
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		if !p.track(c) {
			_ = c.Close()
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// serve forwards c to the upstream, or swallows it once partitioned.
func (p *Proxy) serve(c net.Conn) {
	defer p.wg.Done()
	if p.isPartitioned() {
		_, _ = io.Copy(io.Discard, c) // until Close
		return
	}
	up, err := net.Dial("tcp", p.upstream)
	if err != nil {
		_ = c.Close()
		return
	}
	if !p.track(up) {
		_ = up.Close()
		_ = c.Close()
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.pipe(c, up)
	}()
	p.pipe(up, c)
}

// pipe copies src to dst until either fails, dropping the bytes once
// partitioned. A failure closes both, so the other direction ends too.
func (p *Proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	defer func() {
		_ = dst.Close()
		_ = src.Close()
	}()
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.isPartitioned() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF, or a connection closed by the other direction or by Close
		}
	}
}
