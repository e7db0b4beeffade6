package zk

import "errors"

var (
	// ErrInvalidProof is wrapped by every error Verify, BatchVerify and
	// (*Proof).UnmarshalBinary return: anything that is not a valid proof of
	// the statement, down to a malformed commitment or bucket.
	ErrInvalidProof = errors.New("zk: invalid proof")

	// ErrOutsideBucket: the committed model's score for these inputs is not
	// in the requested bucket, so there is nothing true to prove.
	ErrOutsideBucket = errors.New("zk: score outside bucket")

	// ErrOpeningMismatch: the opening does not open the commitment.
	ErrOpeningMismatch = errors.New("zk: opening does not match commitment")

	// ErrDimension: a vector's length does not match the model dimension.
	ErrDimension = errors.New("zk: dimension mismatch")

	// ErrBucket: a bucket is empty (lo ≥ hi) or bucket edges are not
	// strictly increasing.
	ErrBucket = errors.New("zk: invalid bucket")

	// ErrQuantize: a value is not finite or does not fit the fixed-point
	// range at the requested scale.
	ErrQuantize = errors.New("zk: cannot quantise")

	// ErrEncoding: a commitment or opening is not a valid encoding.
	ErrEncoding = errors.New("zk: invalid encoding")
)
