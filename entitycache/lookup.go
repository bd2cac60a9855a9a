package entitycache

// Lookup returns what the cache knows of the entity k names, from memory or
// its store, without asking the network: for showing a chat by name
// (tlworker's pacing summary). A store error reads as not known.
func (c *Cache) Lookup(k Key) (Entity, bool) {
	e, ok, err := c.get(k)
	if err != nil || !ok || e.partial {
		return Entity{}, false
	}
	return e, true
}
