package main

import "math/rand/v2"

type shuffler struct{ r *rand.Rand }

// newShuffler is seeded for a repeatable demo.
func newShuffler() shuffler { return shuffler{rand.New(rand.NewPCG(1, 2))} }

func (s shuffler) shuffle(v []string) {
	s.r.Shuffle(len(v), func(i, j int) { v[i], v[j] = v[j], v[i] })
}
