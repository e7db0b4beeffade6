package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/record"
	"github.com/medchain/medchain/vault/column"
	"github.com/medchain/medchain/vocab"
)

// benchChunk is a full chunk of a float64 column with a few nulls.
func benchChunk() *column.Chunk {
	c := column.NewChunk(column.Float64, DefaultChunkRows)
	for i := 0; i < DefaultChunkRows; i++ {
		if i%50 == 0 {
			c.Append(record.Null())
		} else {
			c.Append(record.Num(float64(i) * 0.37))
		}
	}
	return c
}

// BenchmarkSealChunk is what sealing one chunk costs: encoding 65,536
// float64 values with their validity bitmap, then AES-256-GCM with a random
// nonce and the chunk's associated data. Compare with BenchmarkRawAESGCM.
func BenchmarkSealChunk(b *testing.B) {
	c := benchChunk()
	aead, _ := newAEAD(newDataKey())
	id := versionID{"bench", 1}
	var plain, sealed, ad []byte
	b.SetBytes(int64(c.EncodedSize()))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		plain = c.AppendEncoded(plain[:0])
		ad = chunkAD(ad, id, "sbp", i)
		sealed = aead.Seal(sealed[:0], nil, plain, ad)
	}
}

// BenchmarkRawAESGCM is plain AES-256-GCM over a buffer of the same size,
// fixed nonce, no associated data: the machine's ceiling.
func BenchmarkRawAESGCM(b *testing.B) {
	plain := make([]byte, benchChunk().EncodedSize())
	block, _ := aes.NewCipher(newDataKey())
	aead, _ := cipher.NewGCM(block)
	nonce := make([]byte, aead.NonceSize())
	var sealed []byte
	b.SetBytes(int64(len(plain)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sealed = aead.Seal(sealed[:0], nonce, plain, nil)
	}
}

// BenchmarkOpenChunk is the reverse of SealChunk: authenticate, decrypt
// and decode one chunk into []float64.
func BenchmarkOpenChunk(b *testing.B) {
	c := benchChunk()
	aead, _ := newAEAD(newDataKey())
	ad := chunkAD(nil, versionID{"bench", 1}, "sbp", 0)
	sealed := aead.Seal(nil, nil, c.AppendEncoded(nil), ad)
	var plain []byte
	var d column.Chunk
	b.SetBytes(int64(c.EncodedSize()))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var err error
		if plain, err = aead.Open(plain[:0], nil, sealed, ad); err != nil {
			b.Fatal(err)
		}
		if err := column.Decode(plain, &d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScan20Columns is a full scan of 20 float64 columns of a stored
// version (262,144 rows, 4 chunks per column) the way an analysis reads
// them: each chunk read from disk, re-hashed, authenticated, decrypted and
// decoded into []float64, one column at a time. Reported as rows/s; run
// with -cpu 1 for one core.
func BenchmarkScan20Columns(b *testing.B) {
	const rows, cols = 4 * DefaultChunkRows, 20
	v, err := Open(filepath.Join(b.TempDir(), "vault"))
	if err != nil {
		b.Fatal(err)
	}
	id, _ := NodeIdentity(keys.FromSeed("n", [32]byte{1: 1}).Enc)
	var sch record.Schema
	for j := 0; j < cols; j++ {
		sch = append(sch, vocab.Field{Name: fmt.Sprintf("x%02d", j), Type: "number"})
	}
	lk, _ := v.Lock("bench")
	w, err := lk.Create(Meta{Version: 1, Schema: sch, Recipients: []Recipient{id.Recipient()}})
	if err != nil {
		b.Fatal(err)
	}
	vals := make([]record.Value, cols)
	for i := 0; i < rows; i++ {
		for j := range vals {
			vals[j] = record.Num(float64(i*j) * 0.5)
		}
		if err := w.Append(record.Row{Pseudonym: fmt.Sprintf("p%08d", i), Values: vals}); err != nil {
			b.Fatal(err)
		}
	}
	s, err := w.Commit()
	if err != nil {
		b.Fatal(err)
	}
	lk.Unlock()
	r, err := v.Open("bench", 1, s.ContentRoot, id)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var sum float64
		for _, f := range sch {
			for c, err := range r.Column(f.Name) {
				if err != nil {
					b.Fatal(err)
				}
				for _, x := range c.Nums {
					sum += x
				}
			}
		}
		if sum == 0 {
			b.Fatal("nothing read")
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
