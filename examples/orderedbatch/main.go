// Command orderedbatch sends an ordered batch (one invokeAfterMsg chain) in
// which one request is bad, and shows partial failure: the calls before it
// ran, it failed with its own error, and the calls after it did not run
// (*scheduler.ChainBrokenError), side by side in one result.
//
//	go run ./examples/orderedbatch
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/tgsim"
)

func main() {
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Usage: orderedbatch

Sends an ordered batch of six messages, the fourth with a bad access hash,
to tgsim (a Telegram-like server started in this process), and prints what
happened to each: sent, failed with its own error, or not run. It takes no
flags or arguments.
`)
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// outcome is what happened to each call of the batch.
type outcome struct {
	OK, Failed, NotRun int
}

func run(w io.Writer) error {
	// The flood model off: six messages to one chat in a row would meet
	// its one-per-second limit, which is not what this example is about.
	srv, err := tgsim.Start(tgsim.Config{Flood: tgsim.FloodConfig{Off: true}})
	if err != nil {
		return err
	}
	defer srv.Close()
	_, err = batch(srv, w)
	return err
}

func batch(srv *tgsim.Server, w io.Writer) (outcome, error) {
	dcs := srv.DCAddrs()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client, err := actors.Start(ctx, actors.Config{DCs: dcs, PublicKeys: []exchange.PublicKey{srv.PublicKey()}, Store: actors.NewMemoryStore()})
	if err != nil {
		return outcome{}, err
	}
	defer client.Close(ctx)

	var r tg.ContactsResolvedPeer
	if err := client.Invoke(ctx, &tg.ContactsResolveUsernameRequest{Username: "user1"}, &r); err != nil {
		return outcome{}, err
	}
	u := r.Users[len(r.Users)-1].(*tg.User)
	good := &tg.InputPeerUser{UserID: u.ID, AccessHash: u.AccessHash}
	bad := &tg.InputPeerUser{UserID: u.ID, AccessHash: u.AccessHash + 1} // the server rejects it

	var reqs []bin.Encoder
	for i := 1; i <= 6; i++ {
		peer := good
		if i == 4 {
			peer = bad
		}
		reqs = append(reqs, &tg.MessagesSendMessageRequest{Peer: peer, Message: fmt.Sprintf("step %d", i), RandomID: int64(i)})
	}
	res, err := client.InvokeAll(ctx, reqs, actors.Ordered())
	var multi *actors.MultiError
	if err != nil && !errors.As(err, &multi) {
		return outcome{}, err // the batch as a whole failed
	}
	var o outcome
	for i, r := range res {
		var broken *scheduler.ChainBrokenError
		switch {
		case r.Err == nil:
			o.OK++
			fmt.Fprintf(w, "step %d: sent\n", i+1)
		case errors.As(r.Err, &broken):
			o.NotRun++
			fmt.Fprintf(w, "step %d: not run, an earlier step failed\n", i+1)
		default:
			o.Failed++
			fmt.Fprintf(w, "step %d: failed: %v\n", i+1, r.Err)
		}
	}
	if multi != nil {
		fmt.Fprintf(w, "%d of %d calls did not succeed\n", len(multi.Errors), multi.Total)
	}
	return o, nil
}
