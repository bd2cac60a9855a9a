package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/cmd/tlworker/internal/accountpool"
	"github.com/tlsched/tlsched/cmd/tlworker/internal/jobs"
	"github.com/tlsched/tlsched/telemetry"
	"github.com/tlsched/tlsched/tl"
)

// sendAccounts is tlworker send with --accounts: a Fleet of the accounts,
// logged in, and the jobs engine routing each job through an account
// pool (internal/accountpool); the chat→account assignments are kept in
// OUT.accounts for --resume. cfg is every account's Config.
func (f *sendFlags) sendAccounts(ctx context.Context, cfg actors.Config, accounts []accountLine, files sendFiles, tel *telemetry.Telemetry, stderr io.Writer) error {
	journal, err := f.openJournal()
	if err != nil {
		return err
	}
	defer journal.Close()
	run, err := startFleet(ctx, cfg, accounts, f.conn.session, f.conn.timeout, tel)
	if err != nil {
		return err
	}
	defer run.close(time.Second)
	for _, m := range run.members {
		if m.Down != nil {
			fmt.Fprintf(stderr, "account %s cannot send: %v; its jobs fail, the other accounts go on\n", m.Name, m.Down)
		}
	}
	pool, err := accountpool.New(run.members, journal)
	if err != nil {
		return err
	}
	// Each account's pacer report, for the summary; the last ones are
	// taken before the Fleet closes.
	watches := make([]*pacingWatch, len(run.clients))
	for i, c := range run.clients {
		watches[i] = watchPacing(c, chatNames(run.caches[i]))
	}
	err = f.runRouted(ctx, pool, run.members, files, func() {
		parallel(loginConcurrency, len(watches), func(i int) { watches[i].final() })
		run.closeFleet(5 * time.Second)
	}, stderr)
	if f.progress != "none" {
		for i, w := range watches {
			if r, ok := w.report(); ok {
				fmt.Fprintf(stderr, "account %s: ", run.members[i].Name)
				printPacingSummary(stderr, r, chatNames(run.caches[i]))
			}
		}
	}
	return err
}

// downError is the run's error when accounts that could not log in had
// jobs: those were not sent (their lines say "not_sent"), and the run
// exits 1 saying how to send them once the accounts are back.
func downError(members []accountpool.Member, counts []accountpool.Count) error {
	var names []string
	jobs := 0
	for i, m := range members {
		if m.Down != nil && counts[i].Failed > 0 {
			names = append(names, m.Name)
			jobs += counts[i].Failed
		}
	}
	if jobs == 0 {
		return nil
	}
	return fmt.Errorf("%d jobs not sent: account(s) %s could not log in; fix them and run again with --resume --retry-not-sent", jobs, strings.Join(names, ", "))
}

// openJournal opens OUT.accounts, the chats' accounts kept for --resume;
// nil (which Close accepts) when the results go to stdout.
func (f *sendFlags) openJournal() (*accountpool.Journal, error) {
	if f.out == "-" {
		return nil, nil
	}
	return accountpool.OpenJournal(accountpool.JournalPath(f.out), f.resume)
}

// runRouted runs the jobs through pool, many accounts: one progress
// display, the accounts' counts printed at the end, and the run's error
// (downError when accounts that could not log in had jobs). closeFn is
// jobs.Config.Close.
func (f *sendFlags) runRouted(ctx context.Context, pool *accountpool.Pool, members []accountpool.Member, files sendFiles, closeFn func(), stderr io.Writer) error {
	prog := newProgressWith(f.progress, stderr, files.total-len(files.done), nil)
	defer prog.finish()
	err := jobs.Run(ctx, jobs.Config{
		Router: pool, Accounts: files.accounts,
		Jobs: files.jobs, Results: files.out, Done: files.done,
		Rate: f.rate, Concurrency: f.concurrency, DrainTimeout: f.drain,
		Close:    closeFn,
		OnResult: prog.add,
		JSON:     tl.EncodeOptions{LongAsNumber: f.longAsNumber},
		Expect:   files.total,
	})
	prog.finish()
	counts := pool.Counts()
	printAccountCounts(stderr, counts)
	if err == nil {
		err = downError(members, counts)
	}
	return err
}
