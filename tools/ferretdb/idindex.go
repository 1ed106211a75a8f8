package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite"
)

// FerretDB v1's SQLite backend indexes _id as `_ferretdb_sjson->"_id"`, but looks documents up
// (find, update, delete by _id) with `_ferretdb_sjson->'$._id'`. SQLite matches index
// expressions literally, so every lookup by _id scans the whole table: 150 ms per update at
// 20 000 documents instead of 1 ms. The keeper adds an index on the expression FerretDB
// queries with, for every collection table, including tables created later.
type idIndexKeeper struct {
	dataDir string
	dbs     map[string]*sql.DB
	done    map[string]bool
}

func newIDIndexKeeper(dataDir string) *idIndexKeeper {
	return &idIndexKeeper{dataDir: dataDir, dbs: map[string]*sql.DB{}, done: map[string]bool{}}
}

// run indexes what exists now, then keeps checking until ctx ends.
func (k *idIndexKeeper) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		k.pass(ctx)
		select {
		case <-ctx.Done():
			for _, db := range k.dbs {
				_ = db.Close()
			}
			return
		case <-t.C:
		}
	}
}

func (k *idIndexKeeper) pass(ctx context.Context) {
	files, _ := filepath.Glob(filepath.Join(k.dataDir, "*.sqlite"))
	for _, file := range files {
		db, ok := k.dbs[file]
		if !ok {
			var err error
			// busy_timeout: FerretDB may be writing; wait for it instead of failing.
			db, err = sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(5000)")
			if err != nil {
				continue
			}
			db.SetMaxOpenConns(1)
			k.dbs[file] = db
		}
		k.indexTables(ctx, file, db)
	}
}

func (k *idIndexKeeper) indexTables(ctx context.Context, file string, db *sql.DB) {
	rows, err := db.QueryContext(ctx, `SELECT table_name FROM _ferretdb_collections`)
	if err != nil {
		return // not a FerretDB database yet
	}
	var tables []string
	for rows.Next() {
		var name string
		if rows.Scan(&name) == nil {
			tables = append(tables, name)
		}
	}
	_ = rows.Close()
	for _, table := range tables {
		key := file + "\x00" + table
		if k.done[key] {
			continue
		}
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (_ferretdb_sjson->'$._id')`,
			table+"__igdm_id_path", table)
		if _, err := db.ExecContext(ctx, q); err != nil {
			if !strings.Contains(err.Error(), "no such table") {
				fmt.Fprintln(os.Stderr, "ferretdb-embedded: _id index:", err)
			}
			continue
		}
		k.done[key] = true
	}
}
