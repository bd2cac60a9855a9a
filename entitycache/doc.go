// Package entitycache turns peer shorthands ("@username", "t.me/name",
// "me", numeric ids, Bot-API-style -100… channel ids, negative chat ids,
// "+phone") into InputPeer, InputUser or InputChannel objects with their
// access hashes.
//
// A Cache learns users and chats from every result it is shown (the actors
// facade hands it each result through actors.Config.OnResult), keeps them in
// a Store (bbolt on disk by default, memory for tests) behind a bounded
// in-memory layer, and resolves a miss over the network through an Invoker
// (contacts.resolveUsername, contacts.resolvePhone, users.getUsers,
// channels.getChannels), merging concurrent lookups of one key and caching
// "no such name" briefly. It implements tl.Resolver, so JSON requests can
// name peers by shorthand, and Invoke retries a call once with fresh hashes
// when the server says a cached one is no longer valid.
package entitycache
