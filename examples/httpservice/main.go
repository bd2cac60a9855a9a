// Command httpservice embeds the tlsched actor system in an HTTP service:
// POST /send {"peer":"@user1","message":"hi"} sends a message and answers
// with Telegram's result; SIGINT/SIGTERM shut it down gracefully (the HTTP
// server stops taking requests, calls in flight finish, the client closes).
//
// The request body:
//
//	peer     required  who to send to: "@name", "t.me/name", "me", a numeric id, …
//	message  required  the text
//	id       optional  an idempotency key of the caller's choice: requests with
//	                   the same id are the same message, which Telegram
//	                   delivers once however often it is sent (it becomes
//	                   the message's random_id). Without it, every request
//	                   is a new message.
//
// A body that is not such an object is answered 400 with the reason
// (invalid JSON, an unknown field, or the missing field by name).
//
// By default it runs against tgsim in the same process, so it needs no
// account:
//
//	go run ./examples/httpservice -addr 127.0.0.1:8080
//	curl -d '{"peer":"@user1","message":"hi","id":"order-42"}' 127.0.0.1:8080/send
package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/entitycache"
	"github.com/tlsched/tlsched/tgsim"
	"github.com/tlsched/tlsched/tl"
)

// service is the HTTP side: it owns nothing but references to the client
// and the entity cache.
type service struct {
	client *actors.Client
	cache  *entitycache.Cache
}

type sendRequest struct {
	Peer    string `json:"peer"`
	Message string `json:"message"`
	// ID makes the send idempotent: the same ID is the same message (a
	// hash of it becomes the random_id, which Telegram deduplicates by).
	// Optional: without it the client picks a random random_id.
	ID string `json:"id,omitempty"`
}

// missing names the first required field the request lacks, or "".
func (r sendRequest) missing() string {
	switch {
	case r.Peer == "":
		return "peer"
	case r.Message == "":
		return "message"
	}
	return ""
}

func (s *service) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /send", s.send)
	return mux
}

func (s *service) send(w http.ResponseWriter, r *http.Request) {
	var req sendRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		httpError(w, http.StatusBadRequest, fmt.Sprintf(`invalid body (want {"peer":"@name","message":"text","id":"optional idempotency key"}): %v`, err))
		return
	}
	if missing := req.missing(); missing != "" {
		httpError(w, http.StatusBadRequest, fmt.Sprintf(`missing field %q (want {"peer":"@name","message":"text","id":"optional idempotency key"})`, missing))
		return
	}
	peer, err := s.cache.InputPeer(r.Context(), req.Peer)
	var se *entitycache.ShorthandError
	var nf *entitycache.NotFoundError
	switch {
	case errors.As(err, &se):
		httpError(w, http.StatusBadRequest, err.Error())
		return
	case errors.As(err, &nf):
		httpError(w, http.StatusNotFound, err.Error())
		return
	case err != nil:
		httpError(w, http.StatusBadGateway, err.Error())
		return
	}
	var random int64 // zero: the client fills in a random one (actors.FillRandomID)
	if req.ID != "" {
		h := sha256.Sum256([]byte(req.ID))
		random = int64(binary.LittleEndian.Uint64(h[:8]))
	}
	res, err := s.client.Call(r.Context(), &tg.MessagesSendMessageRequest{Peer: peer, Message: req.Message, RandomID: random})
	if err != nil {
		status := http.StatusBadGateway
		if fw, ok := tl.AsFloodWait(err); ok {
			w.Header().Set("Retry-After", fmt.Sprint(int(fw.Duration.Seconds())))
			status = http.StatusTooManyRequests
		}
		httpError(w, status, err.Error())
		return
	}
	enc, ok := res.(bin.Encoder)
	if !ok {
		httpError(w, http.StatusInternalServerError, fmt.Sprintf("result %T", res))
		return
	}
	js, err := tl.EncodeJSON(enc)
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "result": json.RawMessage(js)})
}

func httpError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": msg})
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()
	if err := run(*addr); err != nil {
		log.Fatal(err)
	}
}

func run(addr string) error {
	srv, err := tgsim.Start(tgsim.Config{})
	if err != nil {
		return err
	}
	defer srv.Close()
	client, cache, err := connect(srv)
	if err != nil {
		return err
	}
	svc := &service{client: client, cache: cache}
	hs := &http.Server{Addr: addr, Handler: svc.routes(), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- hs.ListenAndServe() }()
	log.Printf("listening on %s; POST /send {\"peer\":\"@user1\",\"message\":\"hi\"}", addr)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	return shutdown(hs, client, cache)
}

// connect starts the actor system and the entity cache for a tgsim server.
func connect(srv *tgsim.Server) (*actors.Client, *entitycache.Cache, error) {
	dcs := srv.DCAddrs()
	client, err := actors.Start(context.Background(), actors.Config{
		DCs: dcs, PublicKeys: []exchange.PublicKey{srv.PublicKey()}, Store: actors.NewMemoryStore(),
	})
	if err != nil {
		return nil, nil, err
	}
	cache, err := entitycache.Open(entitycache.Config{})
	if err != nil {
		client.Close(context.Background())
		return nil, nil, err
	}
	// Learns from every result of the client, resolves misses through it
	// and refreshes stale access hashes in its calls.
	if err := cache.Attach(client); err != nil {
		cache.Close()
		client.Close(context.Background())
		return nil, nil, err
	}
	return client, cache, nil
}

// shutdown stops taking requests, lets those in flight finish, then closes
// the client (which waits for its calls) and the cache.
func shutdown(hs *http.Server, client *actors.Client, cache *entitycache.Cache) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := hs.Shutdown(ctx)
	if cerr := client.Close(ctx); err == nil {
		err = cerr
	}
	if cerr := cache.Close(); err == nil {
		err = cerr
	}
	return err
}
