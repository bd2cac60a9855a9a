package actors_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/tlsched/tlsched/actors"
)

// A service with many bots keeps them in one file: each Client gets an
// account of it, and their keys, sessions, home DCs and learned limits
// stay apart. (Start each with actors.Start(ctx, cfg) as usual; the
// clients of one process share the open file.)
func ExampleOpenBoltStore() {
	dir, _ := os.MkdirTemp("", "fleet")
	defer os.RemoveAll(dir)
	db, err := actors.OpenBoltStore(filepath.Join(dir, "fleet.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	var configs []actors.Config
	for _, name := range []string{"bot-1", "bot-2"} {
		configs = append(configs, actors.Config{Store: db.Account(name)})
	}
	// What a client saves lands in its account; here, a home DC.
	_ = configs[1].Store.(actors.HomeDCStore).SaveHomeDC("4@telegram")
	accounts, _ := db.Accounts()
	fmt.Println(accounts)
	// Output: [bot-2]
}
