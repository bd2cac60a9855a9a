// Package entitycache turns peer shorthands ("@username", t.me links,
// "me", numeric ids, Bot-API-style -100… channel ids, negative chat ids,
// "+phone", invite links) into InputPeer, InputUser or InputChannel objects
// with their access hashes.
//
// A Cache learns users and chats from every result it is shown (Attach
// hooks it to a started actors.Client, which hands it each result; the
// hook must not block: LearnResult only queues, bounded in bytes), keeps
// them in a Store (a bbolt file on disk by default, memory for tests; bound to one account with
// Config.Account; in a Fleet, ForAccount keeps each account's cache in its
// namespace of the Fleet's one bbolt file, BucketStore) behind a bounded in-memory layer, and resolves a miss over
// the network through an Invoker (contacts.resolveUsername,
// contacts.resolvePhone, users.getUsers, channels.getChannels,
// messages.checkChatInvite), merging concurrent lookups of one key and
// caching "no such name" briefly. It implements tl.Resolver, so JSON
// requests can name peers by shorthand, and Invoke retries a call once with
// fresh hashes when the server says a cached one is no longer valid;
// Middleware (installed by Attach) does the same for any call made through
// the client, tg.NewClient(client) included.
//
// Where the rules live: the shorthand forms and id ranges in parse.go; what
// a result teaches (min entities and the messages that mention them,
// usernames, phones, migrated_to) in learn.go; building peers, min peers
// through their message, the network and the refresh in resolve.go;
// attaching to a client and the refresh middleware in attach.go; the
// account binding in account.go; the learn queue in learnqueue.go; the
// bbolt records in records.go, the file store in bolt.go, the store in a
// bucket of another's file in bucketstore.go, a Fleet account's cache in
// fleet.go. The
// README's entitycache section lists the guarantees and the tests that
// prove them.
package entitycache
