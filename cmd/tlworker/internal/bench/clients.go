package bench

import (
	"context"
	"crypto/rsa"
	"fmt"
	"net"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/exchange"
	"github.com/gotd/td/telegram"
	"github.com/gotd/td/telegram/dcs"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/mtproto"
	"github.com/tlsched/tlsched/scheduler"
)

// figures is one client's run.
type figures struct {
	CallsPerSec   float64 `json:"calls_per_s"`
	P50us         float64 `json:"p50_us,omitempty"`
	P99us         float64 `json:"p99_us,omitempty"`
	BytesPerCall  float64 `json:"bytes_per_call"`
	FramesPerCall float64 `json:"frames_per_call,omitempty"` // server-counted (tgsim)
	CPUPer10k     float64 `json:"cpu_s_per_10k"`             // process CPU, server included
}

func sendReq(i int64) *tg.MessagesSendMessageRequest {
	return &tg.MessagesSendMessageRequest{Peer: &tg.InputPeerSelf{}, Message: "hi", RandomID: i}
}

func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// spread runs n calls on callers goroutines and returns their latencies.
func spread(n, callers int, call func(i int64) error) ([]time.Duration, error) {
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				t0 := time.Now()
				if err := call(i + 1); err != nil {
					once.Do(func() { first = err })
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	return lat, first
}

// measure times one run and fills the figures.
func measure(s *Server, d *countingDialer, n, callers int, run func() ([]time.Duration, error)) (figures, error) {
	b0, f0, c0 := d.bytes.Load(), int64(0), cpuNow()+serverCPU(s)
	if s.Frames != nil {
		f0 = s.Frames()
	}
	start := time.Now()
	lat, err := run()
	el := time.Since(start)
	if err != nil {
		return figures{}, err
	}
	f := figures{
		CallsPerSec:  float64(n) / el.Seconds(),
		BytesPerCall: float64(d.bytes.Load()-b0) / float64(n),
		CPUPer10k:    (cpuNow() + serverCPU(s) - c0).Seconds() / float64(n) * 10000,
	}
	if s.Frames != nil {
		f.FramesPerCall = float64(s.Frames()-f0) / float64(n)
	}
	if err := serverErr(s); err != nil {
		return figures{}, err
	}
	if len(lat) > 0 {
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		f.P50us = float64(lat[len(lat)/2].Microseconds())
		f.P99us = float64(lat[len(lat)*99/100].Microseconds())
	}
	return f, nil
}

// runOurs: the actor system, one Call per goroutine at a time.
func runOurs(s *Server, key *rsa.PrivateKey, n, callers int) (figures, error) {
	d := &countingDialer{}
	ctx := context.Background()
	c, err := actors.Start(ctx, actors.Config{
		DCs: map[int]string{2: s.Addr}, PublicKeys: []exchange.PublicKey{{RSA: &key.PublicKey}},
		Store: actors.NewMemoryStore(), Dialer: d,
	})
	if err != nil {
		return figures{}, err
	}
	defer closeClient(c, 10*time.Second)
	if _, err := c.Call(ctx, sendReq(1<<40)); err != nil { // connect first
		return figures{}, err
	}
	return measure(s, d, n, callers, func() ([]time.Duration, error) {
		return spread(n, callers, func(i int64) error { _, err := c.Call(ctx, sendReq(i)); return err })
	})
}

// runGotd: gotd's telegram.Client, one goroutine per caller.
func runGotd(s *Server, key *rsa.PrivateKey, n, callers int) (figures, error) {
	d := &countingDialer{}
	host, portStr, _ := net.SplitHostPort(s.Addr)
	port, _ := strconv.Atoi(portStr)
	client := telegram.NewClient(1, "hash", telegram.Options{
		PublicKeys: []telegram.PublicKey{{RSA: &key.PublicKey}},
		DC:         2,
		DCList:     dcs.List{Options: []tg.DCOption{{ID: 2, IPAddress: host, Port: port}}},
		Resolver:   dcs.Plain(dcs.PlainOptions{Dial: d.DialContext}),
		NoUpdates:  true,
	})
	var f figures
	err := client.Run(context.Background(), func(ctx context.Context) error {
		api := client.API()
		if _, err := api.MessagesSendMessage(ctx, sendReq(1<<40)); err != nil {
			return err
		}
		var err error
		f, err = measure(s, d, n, callers, func() ([]time.Duration, error) {
			return spread(n, callers, func(i int64) error { _, err := api.MessagesSendMessage(ctx, sendReq(i)); return err })
		})
		return err
	})
	return f, err
}

// runBare is the ceiling: one mtproto.Session driven by hand, 100 calls per
// container, up to 20 containers in flight, no scheduler, no futures.
func runBare(s *Server, key *rsa.PrivateKey, n int) (figures, error) {
	d := &countingDialer{}
	ctx := context.Background()
	conn, err := mtproto.Dial(ctx, mtproto.DialConfig{Addr: s.Addr, DC: 2, PublicKeys: []exchange.PublicKey{{RSA: &key.PublicKey}}, Dialer: d})
	if err != nil {
		return figures{}, err
	}
	defer conn.Close()
	sess, err := mtproto.New(mtproto.Config{}, conn.AuthKey, conn.Salt)
	if err != nil {
		return figures{}, err
	}
	var mu sync.Mutex
	credits := make(chan struct{}, 20)
	results := make(chan int, 1024)
	go func() {
		for {
			var b bin.Buffer
			if err := conn.Recv(ctx, &b); err != nil {
				close(results)
				return
			}
			mu.Lock()
			rcv, _ := sess.Receive(time.Now(), b.Buf)
			mu.Unlock()
			results <- len(rcv.Results)
		}
	}()
	enc := func(i int64) []byte {
		var b bin.Buffer
		_ = sendReq(i).Encode(&b)
		return b.Buf
	}
	send := func(from, to int) error {
		calls := make([]mtproto.Call, 0, to-from)
		for i := from; i < to; i++ {
			calls = append(calls, mtproto.Call{ID: mtproto.CallID(i + 1), Body: rawBody(enc(int64(i + 1)))})
		}
		mu.Lock()
		out, err := sess.Pack(time.Now(), calls)
		mu.Unlock()
		if err != nil {
			return err
		}
		for _, f := range out.Frames {
			if err := conn.Send(ctx, &bin.Buffer{Buf: f.Data}); err != nil {
				return err
			}
		}
		return nil
	}
	if err := send(n, n+1); err != nil { // the first call, wrapped in initConnection
		return figures{}, err
	}
	if got := <-results; got == 0 {
		<-results
	}
	return measure(s, d, n, 0, func() ([]time.Duration, error) {
		done := make(chan error, 1)
		go func() {
			for i := 0; i < n; i += 100 {
				credits <- struct{}{}
				if err := send(i, min(i+100, n)); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		got, returned := 0, 0
		for got < n {
			r, ok := <-results
			if !ok {
				return nil, fmt.Errorf("bare client: connection closed after %d of %d results", got, n)
			}
			got += r
			for returned+100 <= got {
				returned += 100
				<-credits
			}
		}
		return nil, <-done
	})
}

type rawBody []byte

func (r rawBody) Encode(b *bin.Buffer) error { b.Put(r); return nil }

// heapPerQueued submits n calls to a DC that accepts connections and never
// answers, so they stay queued, and returns the heap they take per call
// beyond the encoded request.
func heapPerQueued(key *rsa.PrivateKey, n int) (float64, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	var held []net.Conn
	var hmu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			hmu.Lock()
			held = append(held, c)
			hmu.Unlock()
		}
	}()
	defer func() {
		hmu.Lock()
		for _, c := range held {
			c.Close()
		}
		hmu.Unlock()
	}()
	ctx := context.Background()
	c, err := actors.Start(ctx, actors.Config{
		DCs: map[int]string{2: l.Addr().String()}, PublicKeys: []exchange.PublicKey{{RSA: &key.PublicKey}},
		Store: actors.NewMemoryStore(), DialTimeout: 10 * time.Minute,
		Scheduler: scheduler.Config{MaxQueued: n + 16},
	})
	if err != nil {
		return 0, err
	}
	defer closeClient(c, 5*time.Second)
	var b bin.Buffer
	_ = sendReq(1).Encode(&b)
	reqSize := b.Len()
	futures := make([]*actors.Future, 0, n)
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for i := range n {
		f, err := c.Go(ctx, sendReq(int64(i+1)))
		if err != nil {
			return 0, err
		}
		futures = append(futures, f)
	}
	// Stats is answered after every submission before it (one mailbox):
	// the scheduler holds them all now.
	if _, err := c.Stats(ctx); err != nil {
		return 0, err
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	runtime.KeepAlive(futures)
	return float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc))/float64(n) - float64(reqSize), nil
}

func closeClient(c *actors.Client, d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_ = c.Close(ctx)
}
