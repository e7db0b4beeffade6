package outputctl

import (
	"errors"
	"fmt"
)

// ErrBudgetExhausted: the dataset's privacy budget cannot pay for the
// release. Nothing is charged and nothing is released.
var ErrBudgetExhausted = errors.New("privacy budget exhausted")

// Budget is an epsilon accountant under sequential composition: the
// privacy loss of several releases from one dataset is at most the sum of
// their epsilons. Epsilon is counted in milli-units (1000 = ε of 1), the
// ledger's fixed point, so the worker's accounting and the ledger's agree
// to the unit. The ledger holds the authoritative budget; the worker keeps
// a Budget to refuse, before touching any data, a release the remaining
// budget cannot pay for.
type Budget struct {
	TotalMilli uint64 `json:"total_milli"`
	SpentMilli uint64 `json:"spent_milli"`
}

// Remaining is the epsilon still available, in milli-units.
func (b *Budget) Remaining() uint64 {
	if b.SpentMilli >= b.TotalMilli {
		return 0
	}
	return b.TotalMilli - b.SpentMilli
}

// Charge spends milli from the budget, or fails with ErrBudgetExhausted
// and spends nothing.
func (b *Budget) Charge(milli uint64) error {
	if milli > b.Remaining() {
		return fmt.Errorf("%w: %d milli-epsilon asked, %d of %d left", ErrBudgetExhausted, milli, b.Remaining(), b.TotalMilli)
	}
	b.SpentMilli += milli
	return nil
}
