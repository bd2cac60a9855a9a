// Package tl knows the Telegram schema at run time: every constructor and
// method of the layer gotd's tg package was generated from, by name and by
// type id, with its fields and result type. On top of that registry it
// decodes any method's result generically, converts any TL object to and
// from JSON (tlworker's jobs and result lines), and classifies RPC errors
// into what the scheduler does about them. It holds no state beyond the
// registry, built once, and does no I/O.
//
// # Where each rule lives
//
//   - schema_gen.go: the registry's data, generated from gotd's bundled
//     telegram.tl by internal/gen (go generate; CI checks it is fresh).
//   - schema.go, registry.go: Definition and Param, lookups by name and id,
//     New and NewRequest (gotd's Go type for an id).
//   - result.go: DecodeResult (boxed objects, Bool, vectors, bare vectors).
//   - json_decode.go, json_encode.go: JSON ↔ TL ("_" names the
//     constructor, fields go by schema name; peer shorthands through a
//     Resolver; random_id filled in when omitted; fields under one flag
//     bit checked together, json_flags.go). The value forms live in one
//     place each: long as a string (json_encode.go, EncodeOptions), invalid
//     UTF-8 as \udcXX escapes (jsonEncoder.str, unescapeInvalid), one base64
//     spelling (strictBase64), no NaN. json_decode_value.go
//     decodes one value by its TL type; json_decode_state.go and the
//     encoder's pool hold a call's buffers, reused between calls;
//     jsonpath.go is the path that errors name; layout.go classifies a
//     definition's params once for BinaryToJSON. testdata/*.golden pin the
//     output and every error text.
//   - request.go: EncodeParams and Request, a call encoded once from its
//     JSON with what a scheduler reads from it (its chat, its random_id,
//     its paid flood skip); peerkey.go: PeerKey, how a chat is named for
//     slow-mode and pacing gates.
//   - error_rules.go: the rules of RPC errors, one row each, as Telegram's
//     error list writes them ("PASSWORD_TOO_FRESH_%d"). A wait the
//     scheduler gates on is a row of floodRules (its error type and
//     whether it holds back a method or a chat): the scheduler's gates
//     follow the row and nothing else changes. Every other error with a
//     number, and every error whose action is not its code's, is a row of
//     errorRules: its Action and the Unit of its number (seconds, minutes,
//     a unix time, a DC, an index; there is no blanket rule).
//   - errors.go: Action, Class, Classify (the tables, then the code: 401
//     Reauthorize, 5xx/-503/*_RETRY backoff, else Final), Typed, and the
//     wait and migration errors; error_types.go: *AuthError, *StepError,
//     *NumberError.
//   - search.go: Search and Describe, for tlworker methods and describe.
package tl
