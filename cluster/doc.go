// Package cluster holds what lets tlsched run accounts on several machines.
//
// # Account ownership
//
// Telegram invalidates an auth key that is used from two IP addresses at once
// (AUTH_KEY_DUPLICATED), so at any moment at most one machine may talk to
// Telegram for an account. [Owners] gives each account at most one owner by a
// key in etcd, Prefix+account, created only if absent and attached to a lease
// that the owner keeps renewing; the key's value is the owner's member name.
// Its rules live in ownership.go (acquire, release) and renew.go (renewal and
// when ownership is lost).
//
// What the lease guarantees: a new owner gets the key only after the
// previous one released it or after etcd expired its lease, and an owner that
// cannot renew stops on its own before etcd can expire its lease. Every
// renewal is stamped with the local time t0 taken before the request is sent;
// the lease is then valid at least until t0+TTL (etcd counts the TTL from when
// it received the request, which is later), and [Ownership.Deadline] is that
// time minus Margin; [Ownership.Lost] is closed when it passes. So no two
// ownerships of an account are ever both before their Deadline, and the old
// owner's Deadline passes at least Margin before anybody else can acquire the
// account, provided the local clock does not run slower than etcd's by more
// than Margin/TTL (20% with the default Margin = TTL/5) and the owner stops
// promptly: it must not start a send after Deadline, and must stop when Lost
// is closed.
//
// What it does not guarantee: Telegram checks no fencing token, so nothing
// stops a stalled owner (a long GC pause, a suspended VM, a process stopped
// between checking Lost and writing to the socket) from sending after its
// deadline; safety rests on timing, as above. [Ownership.Revision] is a
// fencing value for our own stores (a write conditioned on the key's create
// revision is refused once the key has a new owner), not for Telegram. The
// lease says nothing about connections that outlive the process's decision to
// stop: the owner must close its sockets when Lost is closed. And the
// ownership is only as available as etcd: an owner cut off from etcd loses
// its accounts even if Telegram is reachable.
//
// # The account's state in etcd
//
// [Store] keeps an account's auth keys, salts, home DC, learned limits and
// login in etcd, which every member reaches (actors.Store and its optional
// interfaces; store.go). Auth keys are sealed at rest with AES-256-GCM
// ([Sealer], seal.go) under a key each member reads from TLSCHED_SEAL_KEY
// or a file, and every write is fenced by the account's [Ownership]: a
// write after the account passed to another member is refused
// ([ErrFenced]).
//
// # Accounts as virtual actors
//
// [Host.Kind] is the protoactor-go cluster kind of account grains: one
// virtual actor per account, its identity the account's name, activated on
// first use on the member protoactor's identity lookup (disthash) picks.
// A grain acquires its account ([Host.Run]) before it sends anything, so
// the ownership lease, not the lookup, decides who talks to Telegram: two
// activations of one account (a lookup that changed its mind while members
// came and went) never both connect; the second waits for the lease.
// Members find each other through etcd ([Membership], membership.go, a
// cluster.ClusterProvider with its own lease).
//
// [Submitter] (submitter.go) sends calls to grains from any member or
// cluster client: TL requests already encoded (peers resolved and
// random_ids filled by the submitter), in one clusterpb.Invoke per batch,
// each answered by a clusterpb.Answer to the submitter's own actor. A call
// crosses the cluster at most once: no protoactor Request (it retries),
// and a grain that terminates before answering fails its calls with
// scheduler.ErrMayHaveRun. The messages that cross the network are the
// protobuf ones of package clusterpb; what stays on a member stays Go
// values. The grain's rules live in grain.go.
package cluster
