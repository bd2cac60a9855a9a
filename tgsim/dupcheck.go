package tgsim

import (
	"net"

	"github.com/gotd/td/tgerr"
)

// Telegram revokes an auth key used at once from two IP addresses: every
// call under it is then answered 406 AUTH_KEY_DUPLICATED, and the client
// must make a new key and log in again. "At once" is two open connections
// from different source IPs that have each sent a frame under the key; a
// client that reconnects from a new address after the server saw the old
// connection close is fine. A connection the client thinks closed but the server
// still holds (a partition) counts as open: that is what a cluster's
// ownership of an account must prevent (tgsim's members bind distinct
// loopback addresses, 127.0.0.2, 127.0.0.3, …, to be told apart).

// errAuthKeyDuplicated is Telegram's answer under a revoked duplicate key.
var errAuthKeyDuplicated = tgerr.New(406, "AUTH_KEY_DUPLICATED")

// sourceIP is the IP a connection comes from ("" when it has none).
func sourceIP(c *conn) string {
	if a, ok := c.raw.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	host, _, err := net.SplitHostPort(c.raw.RemoteAddr().String())
	if err != nil {
		return ""
	}
	return host
}

// use records that c sent a frame under k, and revokes k when another
// open connection from another IP has too. It reports whether k is
// revoked.
func (k *authKey) use(c *conn) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.users[c]; !ok {
		ip := c.ip
		if k.users == nil {
			k.users = map[*conn]string{}
		}
		for oc, other := range k.users {
			if other != ip && !oc.isClosed() && !k.duplicated {
				k.duplicated = true
				c.srv.count.duplicatedKeys.Add(1)
				c.srv.logf("tgsim: DC %d: auth key used at once from %s and %s: revoked (AUTH_KEY_DUPLICATED)", c.dc.id, other, ip)
			}
		}
		k.users[c] = ip
		c.mu.Lock()
		c.keys = append(c.keys, k)
		c.mu.Unlock()
	}
	return k.duplicated
}

// isClosed reports whether c was closed (it may not have left its keys
// yet: its reader does that as it ends).
func (c *conn) isClosed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// left forgets a closed connection.
func (k *authKey) left(c *conn) {
	k.mu.Lock()
	delete(k.users, c)
	k.mu.Unlock()
}

// isDuplicated reports whether k was revoked as used from two IPs.
func (k *authKey) isDuplicated() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.duplicated
}
