package bench

import (
	"context"
	"crypto/rsa"
	"net"
	"sync/atomic"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/mt"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgtest"
	"github.com/gotd/td/transport"

	"github.com/tlsched/tlsched/tgsim"
)

// Server is a server started for one benchmark round.
type Server struct {
	Addr   string       // DC 2
	Frames func() int64 // frames the server read (tgsim); nil for tgtest
	// CPU, for a server in a process of its own (startServerProcess), is
	// that process's CPU so far; nil for one in this process, whose CPU is
	// this process's.
	CPU func() time.Duration
	// Err, for a server in a process of its own, is the first failure to
	// read its figures (CPU, Frames): the process died or stopped
	// answering, and the figures read since are wrong. Nil otherwise.
	Err  func() error
	Stop func()
}

// StartServer starts gotd's tgtest (answering sendMessage and
// help.getConfig) or tgsim (one DC, flood model off, no latency: the
// client's path is measured, not the simulated server's think time) on
// 127.0.0.1.
func StartServer(kind string, key *rsa.PrivateKey) (*Server, error) {
	if kind == "tgsim" {
		srv, err := tgsim.Start(tgsim.Config{Key: key, DCs: []int{2}, Flood: tgsim.FloodConfig{Off: true}, Latency: tgsim.NoLatency})
		if err != nil {
			return nil, err
		}
		return &Server{Addr: srv.Addr(2), Frames: func() int64 { return srv.Counters().FramesIn }, Stop: func() { srv.Close() }}, nil
	}
	srv := tgtest.NewServer(tgtest.NewPrivateKey(key), &echoHandler{}, tgtest.ServerOptions{DC: 2})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, transport.Listen(l)) }()
	return &Server{Addr: l.Addr().String(), Stop: func() { cancel(); <-done }}, nil
}

// echoHandler is a tgtest handler: it unwraps the invoke wrappers and
// answers help.getConfig and messages.sendMessage.
type echoHandler struct{ id atomic.Int64 }

type skipQuery struct{}

func (skipQuery) Decode(*bin.Buffer) error { return nil }
func (skipQuery) Encode(*bin.Buffer) error { return nil }

func (e *echoHandler) OnMessage(srv *tgtest.Server, req *tgtest.Request) error {
	for {
		id, err := req.Buf.PeekID()
		if err != nil {
			return err
		}
		var r bin.Decoder
		switch id {
		case mt.MsgsAckTypeID, mt.MsgResendReqTypeID:
			return nil
		case tg.InvokeWithLayerRequestTypeID:
			r = &tg.InvokeWithLayerRequest{Query: skipQuery{}}
		case tg.InitConnectionRequestTypeID:
			r = &tg.InitConnectionRequest{Query: skipQuery{}}
		case tg.InvokeWithoutUpdatesRequestTypeID:
			r = &tg.InvokeWithoutUpdatesRequest{Query: skipQuery{}}
		case tg.InvokeAfterMsgRequestTypeID:
			r = &tg.InvokeAfterMsgRequest{Query: skipQuery{}}
		case tg.HelpGetConfigRequestTypeID:
			return srv.SendResult(req, &tg.Config{ThisDC: 2, DCOptions: []tg.DCOption{{ID: 2, IPAddress: "127.0.0.1"}}})
		case tg.MessagesSendMessageRequestTypeID:
			return srv.SendResult(req, &tg.UpdateShortSentMessage{ID: int(e.id.Add(1))})
		default:
			return srv.SendResult(req, &tg.BoolTrue{})
		}
		if err := r.Decode(req.Buf); err != nil {
			return err
		}
	}
}

// countingDialer counts the bytes written on the connections it opens.
type countingDialer struct {
	bytes atomic.Int64
}

func (d *countingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, d: d}, nil
}

type countingConn struct {
	net.Conn
	d *countingDialer
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.d.bytes.Add(int64(n))
	return n, err
}

// serverCPU returns s's own CPU so far when it runs in a process of its
// own, else 0 (its CPU is in cpuNow).
func serverCPU(s *Server) time.Duration {
	if s.CPU == nil {
		return 0
	}
	return s.CPU()
}

// serverErr returns s's Err, if it has one.
func serverErr(s *Server) error {
	if s.Err == nil {
		return nil
	}
	return s.Err()
}
