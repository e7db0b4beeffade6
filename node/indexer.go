package node

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	cfg "github.com/cometbft/cometbft/config"
	_ "github.com/lib/pq" // the "postgres" driver CometBFT's psql indexer uses
)

// PsqlSchema is where CometBFT's PostgreSQL indexer schema is, relative to
// the cometbft module's directory (`go list -m -f '{{.Dir}}'
// github.com/cometbft/cometbft`, or a checkout of CometBFT v1.0.1). The
// database must hold it before the node starts.
const PsqlSchema = "state/indexer/sink/psql/schema.sql"

// CheckPsqlIndex connects to the PostgreSQL database of a psql tx indexer
// and checks that the tables the indexer writes exist. CometBFT only opens
// the database lazily and, when a block cannot be indexed, logs the error
// and goes on; checking at start turns a wrong connection string or a
// missing schema into an error that stops the node, instead of an index
// that silently stays empty.
func CheckPsqlIndex(t *cfg.TxIndexConfig) error {
	if t.PsqlConn == "" {
		return errors.New(`tx indexer "psql": no connection string (tx_index.psql-conn in config.toml, or --psql-conn)`)
	}
	db, err := sql.Open("postgres", t.PsqlConn)
	if err != nil {
		return fmt.Errorf(`tx indexer "psql": connection string: %w`, err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf(`tx indexer "psql": cannot connect to PostgreSQL: %w`, err)
	}
	for _, tbl := range []string{
		or(t.TableBlocks, "blocks"), or(t.TableTxResults, "tx_results"),
		or(t.TableEvents, "events"), or(t.TableAttributes, "attributes"),
	} {
		var reg sql.NullString
		if err := db.QueryRowContext(ctx, "SELECT to_regclass($1)::text", tbl).Scan(&reg); err != nil {
			return fmt.Errorf(`tx indexer "psql": look up table %q: %w`, tbl, err)
		}
		if !reg.Valid {
			return fmt.Errorf(`tx indexer "psql": the database has no table %q: load CometBFT's indexer schema (%s in the cometbft v1.0.1 module) first, see docs/indexer.md`, tbl, PsqlSchema)
		}
	}
	return nil
}

func or(s, dflt string) string {
	if s == "" {
		return dflt
	}
	return s
}
