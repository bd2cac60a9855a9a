package actors

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"

	"github.com/gotd/td/crypto"
	"github.com/gotd/td/exchange"
)

// A DC's records in a Store are named after the DC's id and the server's
// identity, the fingerprints of its RSA keys (Config.PublicKeys): a server
// is the same server whatever port it listens on today (a test server on
// an ephemeral port keeps one key per DC, not one per run), and two
// servers with different keys (Telegram's production and test DCs) never
// mix keys. A server that changes its key set is a new server. Telegram
// with the built-in keys (PublicKeys nil) is "telegram", so that a tlsched
// release that updates those keys does not lose every session. Before issue
// 21 records were named after the DC's address ("2@149.154.167.51:443");
// such a record is still found, and copied to the new name on first use
// (TestLegacyStoreNamesMigrate).

// telegramServer names Telegram's production DCs reached with the
// built-in keys.
const telegramServer = "telegram"

// serverID names the server whose RSA keys are keys: "keys-" and 16 hex
// digits of a hash of their sorted fingerprints.
func serverID(keys []exchange.PublicKey) string {
	var fps []int64
	for _, k := range keys {
		if k.RSA != nil {
			fps = append(fps, crypto.RSAFingerprint(k.RSA))
		}
	}
	slices.Sort(fps)
	fps = slices.Compact(fps)
	h := sha256.New()
	for _, fp := range fps {
		_ = binary.Write(h, binary.LittleEndian, fp)
	}
	return "keys-" + hex.EncodeToString(h.Sum(nil)[:8])
}

// storeName names a DC in a Store: its id and the server's identity
// (serverID), so that keys (and the home DC) of different servers never
// mix.
func storeName(id int, server string) string { return fmt.Sprintf("%d@%s", id, server) }

// legacyStoreName is the name records had before: the DC's id and address.
func legacyStoreName(id int, addr string) string { return fmt.Sprintf("%d@%s", id, addr) }

// loadKey loads the key stored under name, else under legacy, which it
// then copies to name (with its session state, if the Store keeps it), so
// that what is saved later goes with the key. A copy that fails is logged:
// the key is used all the same.
func loadKey(store Store, name, legacy string, log *slog.Logger) (crypto.AuthKey, int64, bool, error) {
	key, salt, ok, err := store.Load(name)
	if err != nil || ok {
		return key, salt, ok, err
	}
	key, salt, ok, err = store.Load(legacy)
	if err != nil || !ok {
		return key, salt, ok, err
	}
	if err := store.Save(name, key, salt); err != nil {
		log.Warn("copy auth key to its new store name", "err", err)
		return key, salt, true, nil
	}
	if ss, isSS := store.(SessionStore); isSS {
		if st, found, err := ss.LoadSession(legacy, key.ID); err == nil && found {
			if err := ss.SaveSession(name, key.ID, st); err != nil {
				log.Warn("copy session state to its new store name", "err", err)
			}
		}
	}
	return key, salt, true, nil
}
