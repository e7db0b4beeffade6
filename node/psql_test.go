//go:build unix

package node_test

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/lib/pq"

	"github.com/medchain/medchain/api/apitest"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/node"
)

// TestPsqlIndexer runs a one-validator network with CometBFT's PostgreSQL
// indexer on, against a real PostgreSQL server started for the test, submits
// a transfer and finds its result and events in the database.
func TestPsqlIndexer(t *testing.T) {
	pg := startPostgres(t)
	conn := pg.createDB(t, "medchain_index")
	pg.loadSchema(t, conn)

	var addrs [3]string
	for i := range addrs {
		a, err := apitest.FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		addrs[i] = a
	}
	home := filepath.Join(t.TempDir(), "home")
	const chainID = "medchain-psql-test"
	err := node.CreateNetwork([]string{home}, node.NetOptions{ChainID: chainID, Validators: 1, Demo: true,
		BlockTime: 100 * time.Millisecond, API: addrs[0], RPC: addrs[1], P2P: addrs[2]})
	if err != nil {
		t.Fatal(err)
	}

	// A database without the schema is refused at start, by name.
	_, err = node.Start(home, node.Options{PsqlConn: pg.createDB(t, "no_schema")})
	if err == nil || !strings.Contains(err.Error(), `no table "blocks"`) || !strings.Contains(err.Error(), node.PsqlSchema) {
		t.Fatalf("Start with an empty database: %v, want an error naming the missing table and the schema", err)
	}

	n, err := node.Start(home, node.Options{PsqlConn: conn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Stop(); err != nil {
			t.Error(err)
		}
	})
	c := client.New(n.APIAddr())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		if st, err := c.Status(ctx); err == nil && st.Height >= 1 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("node did not commit a block")
		case <-time.After(50 * time.Millisecond):
		}
	}
	from, err := keys.Load(node.KeysDir(home), "lakeview-admin")
	if err != nil {
		t.Fatal(err)
	}
	to, err := keys.Load(node.KeysDir(home), "rita-researcher")
	if err != nil {
		t.Fatal(err)
	}
	sub, err := c.SignAndSubmit(ctx, from, &ledger.Transfer{To: to.Address(), Amount: 7}, true)
	if err != nil {
		t.Fatal(err)
	}
	if sub.Result == nil || sub.Result.Code != ledger.CodeOK {
		t.Fatalf("transfer: %+v", sub.Result)
	}

	// CometBFT indexes from its event bus, after the commit: poll.
	db := pg.open(t, conn)
	var (
		height   int64
		chain    string
		index    int
		txResult []byte
	)
	q := `SELECT b.height, b.chain_id, t.index, t.tx_result FROM tx_results t JOIN blocks b ON b.rowid = t.block_id WHERE lower(t.tx_hash) = lower($1)`
	for {
		err = db.QueryRowContext(ctx, q, sub.Hash).Scan(&height, &chain, &index, &txResult)
		if err == nil {
			break
		}
		if err != sql.ErrNoRows {
			t.Fatal(err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no tx_results row for %s after 60 s", sub.Hash)
		case <-time.After(100 * time.Millisecond):
		}
	}
	if height != sub.Result.Height || index != sub.Result.Index || chain != chainID || len(txResult) == 0 {
		t.Errorf("tx_results: height %d index %d chain %q (%d bytes), want height %d index %d chain %q",
			height, index, chain, len(txResult), sub.Result.Height, sub.Result.Index, chainID)
	}
	attrs := map[string]string{}
	rows, err := db.QueryContext(ctx, `SELECT key, value FROM tx_events WHERE height = $1 AND index = $2 AND chain_id = $3 AND type = 'medchain'`, height, index, chainID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		attrs[k] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if attrs["type"] != "transfer" || attrs["signer"] != from.Address() || attrs["audit_index"] == "" {
		t.Errorf("tx_events of the transfer: %v, want type=transfer signer=%s and an audit index", attrs, from.Address())
	}
	// The query docs/indexer.md gives for "everything one account signed".
	var signed []string
	rows, err = db.QueryContext(ctx, `SELECT t.height, t.index, t.value AS type
FROM tx_events t JOIN tx_events s USING (height, index, chain_id)
WHERE t.type = 'medchain' AND t.key = 'type'
  AND s.type = 'medchain' AND s.key = 'signer' AND s.value = $1
ORDER BY t.height, t.index`, from.Address())
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var h int64
		var i int
		var typ string
		if err := rows.Scan(&h, &i, &typ); err != nil {
			t.Fatal(err)
		}
		signed = append(signed, fmt.Sprintf("%d/%d %s", h, i, typ))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%d/%d transfer", height, index); !slices.Equal(signed, []string{want}) {
		t.Errorf("transactions signed by %s: %q, want [%q]", from.Address(), signed, want)
	}
	var blocks int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM blocks WHERE chain_id = $1 AND height <= $2`, chainID, height).Scan(&blocks); err != nil {
		t.Fatal(err)
	}
	if blocks < 1 {
		t.Errorf("blocks holds no row up to height %d", height)
	}
	t.Logf("transfer %s indexed at height %d index %d; %d blocks indexed; events %v", sub.Hash, height, index, blocks, attrs)
}

// postgres is a throwaway PostgreSQL cluster in a temporary directory,
// listening on a free loopback port, run by the test (as an unprivileged
// user when the test runs as root: PostgreSQL refuses to run as root).
type postgres struct {
	bin  string // directory of initdb and postgres
	dir  string
	port int
	cred *syscall.Credential // nil: run as the current user
}

// findPostgres finds the server binaries: initdb and postgres on PATH, else
// in Debian's /usr/lib/postgresql/<version>/bin (newest first).
func findPostgres() string {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("postgres"); err == nil {
			return filepath.Dir(p)
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	return ""
}

func startPostgres(t *testing.T) *postgres {
	t.Helper()
	bin := findPostgres()
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("PostgreSQL server binaries (initdb, postgres) not found: CI must install them (.ci/run installs Debian's postgresql)")
		}
		t.Skip("PostgreSQL server binaries (initdb, postgres) not found; install them (apt-get install postgresql) to run this test")
	}
	pg := &postgres{bin: bin}
	dir, err := os.MkdirTemp("", "medchain-pg-")
	if err != nil {
		t.Fatal(err)
	}
	pg.dir = dir
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres") // created by Debian's package
		if err != nil {
			u, err = user.Lookup("nobody")
		}
		if err != nil {
			t.Fatalf("running as root and no unprivileged user to run PostgreSQL as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		pg.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := pg.command("initdb", "-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pg.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	srv := pg.command("postgres", "-D", data, "-p", strconv.Itoa(pg.port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	srv.Stdout, srv.Stderr = logf, logf
	if err := srv.Start(); err != nil {
		t.Fatalf("start postgres: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	t.Cleanup(func() {
		srv.Process.Signal(syscall.SIGINT) // fast shutdown
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			srv.Process.Kill()
			<-exited
		}
		logf.Close()
	})
	db := pg.open(t, pg.conn("postgres"))
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := db.Ping()
		if err == nil {
			break
		}
		select {
		case werr := <-exited:
			exited <- werr
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("postgres exited: %v\n%s", werr, log)
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("postgres not ready after 60 s: %v\n%s", err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return pg
}

func (pg *postgres) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(pg.bin, name), args...)
	cmd.Dir = pg.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if pg.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: pg.cred}
	}
	return cmd
}

func (pg *postgres) conn(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", pg.port, db)
}

func (pg *postgres) open(t *testing.T, conn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", conn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// createDB creates a database and returns its connection string.
func (pg *postgres) createDB(t *testing.T, name string) string {
	t.Helper()
	if _, err := pg.open(t, pg.conn("postgres")).Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	return pg.conn(name)
}

// loadSchema loads the schema CometBFT's psql indexer ships in its module
// (state/indexer/sink/psql/schema.sql), read from the module cache.
func (pg *postgres) loadSchema(t *testing.T, conn string) {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/cometbft/cometbft").Output()
	if err != nil {
		t.Fatalf("locate the cometbft module: %v", err)
	}
	schema, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), node.PsqlSchema))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pg.open(t, conn).Exec(string(schema)); err != nil {
		t.Fatalf("load %s: %v", node.PsqlSchema, err)
	}
}
