package zkmodel

// Input names the part of a request an error is about.
type Input string

// The inputs of Commit, Prove and the Read functions.
const (
	InputID         Input = "id"              // the model id
	InputModel      Input = "model"           // the model: weights, intercept, scale
	InputFeatures   Input = "features"        // the model's features
	InputThresholds Input = "risk thresholds" // the probabilities between buckets
	InputLabels     Input = "labels"          // the buckets' labels
	InputJobResult  Input = "job result"      // a decrypted compute job result
	InputX          Input = "x"               // the inputs of a prediction
	InputRequest    Input = "request"         // the request id a proof is bound to
)

// Error is a request refused because of one of its inputs. It names the
// input, never a value of it beyond what the caller gave.
type Error struct {
	Input Input
	Err   error
}

func (e *Error) Error() string { return string(e.Input) + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func inputErr(in Input, err error) error { return &Error{Input: in, Err: err} }
